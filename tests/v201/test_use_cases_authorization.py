"""OCPP 2.0.1 functional blocks C (Authorization) and D (Local authorization list
management), the CSMS side, one test per use case as the OCTT CSMS test cases
(TC_C_*_CSMS, TC_D_*_CSMS) drive it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import get_json, iso, journal
from tests.v201.charging_station import ended, event, recent, started, station
from tests.v201.use_cases import add_tag, answered, refused
from webapp.keys import SERVICES


def token(id_token: str, kind: str = "ISO14443") -> dict[str, str]:
    return {"idToken": id_token, "type": kind}


async def authorize(cp, id_token: str, kind: str = "ISO14443") -> dict:
    return (await cp.result("Authorize", {"idToken": token(id_token, kind)}))["idTokenInfo"]


async def test_C01_authorize_accepted_invalid_blocked_expired(client, connect) -> None:
    """C01 (TC_C_02_CSMS, TC_C_06_CSMS, TC_C_07_CSMS: C01.FR.07): the AuthorizeResponse
    carries the token's own status: Accepted for a valid one (with its expiry as
    cacheExpiryDateTime), Invalid for an unknown one, Blocked for a blocked one, Expired for
    one past its expiry date."""
    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    await add_tag(client, "C01-OK", expiry_date=iso(expiry))
    await add_tag(client, "C01-BLOCKED", blocked=True)
    await add_tag(client, "C01-EXPIRED", expiry_date=iso(datetime.now(UTC) - timedelta(days=1)))
    cp = await station(connect, "C01")

    accepted = await authorize(cp, "C01-OK")
    assert accepted["status"] == "Accepted"
    assert datetime.fromisoformat(accepted["cacheExpiryDateTime"]) == expiry
    assert (await authorize(cp, "C01-NOBODY"))["status"] in ("Invalid", "Unknown")
    assert (await authorize(cp, "C01-BLOCKED"))["status"] == "Blocked"
    assert (await authorize(cp, "C01-EXPIRED"))["status"] == "Expired"
    # Nothing of an Authorize is a session.
    assert await get_json(client, "/api/transactions?charge_point_id=C01", role="viewer") == []


async def test_C01_id_tokens_are_case_insensitive(client, connect) -> None:
    """C01: idToken is a CiString36, compared case-insensitively. Authorize and
    TransactionEvent find the stored token whatever case the station sends (the answer is
    its status: Accepted with its group and expiry, or Blocked), the token in a session is
    that token in any case (ConcurrentTx), and the session keeps the station's spelling."""
    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    await add_tag(client, "04A1B2C3D4", expiry_date=iso(expiry), parent_id_tag="C01-GROUP")
    await add_tag(client, "C01-Blocked", blocked=True)
    cp = await station(connect, "C01-CASE", evses=2)

    accepted = await authorize(cp, "04a1b2c3d4")
    assert accepted["status"] == "Accepted"
    assert accepted["groupIdToken"]["idToken"] == "C01-GROUP"
    assert datetime.fromisoformat(accepted["cacheExpiryDateTime"]) == expiry
    assert (await authorize(cp, "c01-BLOCKED"))["status"] == "Blocked"

    t0 = recent()
    answer = await cp.result("TransactionEvent", started("TX-CASE-1", t0, token="04a1b2c3d4"))
    assert answer["idTokenInfo"]["status"] == "Accepted"
    other = started("TX-CASE-2", t0, token="04A1B2C3D4", evse=2)
    answer = await cp.result("TransactionEvent", other)
    assert answer["idTokenInfo"]["status"] == "ConcurrentTx"
    # Authorize answers the token's own status, in a session or not.
    assert (await authorize(cp, "04A1b2C3d4"))["status"] == "Accepted"
    blocked = started("TX-CASE-3", t0, token="C01-BLOCKED", evse=None)
    assert (await cp.result("TransactionEvent", blocked))["idTokenInfo"]["status"] == "Blocked"

    sessions = await get_json(client, "/api/transactions?charge_point_id=C01-CASE")
    spelled = sorted((tx["ocpp_transaction_id"], tx["id_tag"]) for tx in sessions)
    assert spelled == [
        ("TX-CASE-1", "04a1b2c3d4"),
        ("TX-CASE-2", "04A1B2C3D4"),
        ("TX-CASE-3", "C01-BLOCKED"),
    ]
    [tag] = await get_json(client, "/api/id-tags?q=04a1&usage=true")
    assert (tag["id_tag"], tag["in_session"]) == ("04A1B2C3D4", True)
    # The first one ended, the token has no open session but the second's own.
    await cp.result("TransactionEvent", ended("TX-CASE-1", t0 + timedelta(minutes=1), 1))
    again = event("Updated", 1, "TX-CASE-2", t0 + timedelta(minutes=2), "Authorized", evse=2)
    again["idToken"] = token("04a1B2c3D4")
    assert (await cp.result("TransactionEvent", again))["idTokenInfo"]["status"] == "Accepted"


async def test_C02_authorization_using_a_start_button(client, connect) -> None:
    """C02: a transaction started with the station's start button carries an idToken of type
    NoAuthorization: there is nothing to look up, it is Accepted and the session is recorded
    without a tag."""
    cp = await station(connect, "C02")
    t0 = recent()
    start = started("TX-C02", t0)
    start["idToken"] = {"idToken": "", "type": "NoAuthorization"}
    assert await cp.result("TransactionEvent", start) == {"idTokenInfo": {"status": "Accepted"}}
    assert await cp.result("TransactionEvent", ended("TX-C02", t0 + timedelta(minutes=1), 1)) == {}
    [tx] = await get_json(client, "/api/transactions?charge_point_id=C02", role="viewer")
    assert (tx["ocpp_transaction_id"], tx["id_tag"], tx["energy_wh"]) == ("TX-C02", None, 1000.0)


async def test_C05_authorization_for_csms_initiated_transactions(client, connect) -> None:
    """C05: the token of a remote start is sent as type Central; the Started event that
    names it is answered with the token's status and the session is the token's."""
    await add_tag(client, "C05TAG")
    cp = await station(connect, "C05")
    call, code, answer = await answered(
        client,
        cp,
        "C05",
        "remote-start",
        {"id_tag": "C05TAG", "evse_id": 1},
        {"status": "Accepted"},
    )
    assert call[3]["idToken"] == token("C05TAG", "Central")
    assert (code, answer) == (200, {"status": "Accepted"})
    start = event(
        "Started",
        0,
        "TX-C05",
        recent(),
        "RemoteStart",
        energy=0,
        context="Transaction.Begin",
        remoteStartId=call[3]["remoteStartId"],
    )
    start["idToken"] = token("C05TAG", "Central")
    assert (await cp.result("TransactionEvent", start))["idTokenInfo"]["status"] == "Accepted"
    [tx] = await get_json(client, "/api/transactions?charge_point_id=C05", role="viewer")
    assert tx["id_tag"] == "C05TAG"


async def test_C09_authorization_by_group_id(client, connect) -> None:
    """C09: a token with a group answers with its groupIdToken, so the station can let
    another token of the same group stop the transaction; that stop is Accepted with the
    group and the session stays the first token's."""
    await add_tag(client, "C09-GROUP")
    await add_tag(client, "C09-A", parent_id_tag="C09-GROUP")
    await add_tag(client, "C09-B", parent_id_tag="C09-GROUP")
    cp = await station(connect, "C09")
    info = await authorize(cp, "C09-A")
    assert info["status"] == "Accepted"
    assert info["groupIdToken"]["idToken"] == "C09-GROUP"
    t0 = recent()
    answer = await cp.result("TransactionEvent", started("TX-C09", t0, token="C09-A"))
    assert answer["idTokenInfo"]["groupIdToken"]["idToken"] == "C09-GROUP"

    other = await authorize(cp, "C09-B")
    assert (other["status"], other["groupIdToken"]["idToken"]) == ("Accepted", "C09-GROUP")
    stop = ended("TX-C09", t0 + timedelta(minutes=1), 1, token="C09-B", stoppedReason="Local")
    stop["triggerReason"] = "StopAuthorized"
    answer = await cp.result("TransactionEvent", stop)
    assert answer["idTokenInfo"]["status"] == "Accepted"
    assert answer["idTokenInfo"]["groupIdToken"]["idToken"] == "C09-GROUP"
    [tx] = await get_json(client, "/api/transactions?charge_point_id=C09", role="viewer")
    assert (tx["id_tag"], tx["stop_reason"]) == ("C09-A", "Local")
    assert tx["stop_time"] is not None


async def test_C11_clear_authorization_data_in_cache(client, connect) -> None:
    """C11: ClearCache is sent with an empty payload; the station's Accepted or Rejected is
    shown and journalled."""
    cp = await station(connect, "C11")
    call, code, answer = await answered(
        client, cp, "C11", "clear-cache", {}, {"status": "Accepted"}
    )
    assert call[2:] == ["ClearCache", {}] and (code, answer) == (200, {"status": "Accepted"})
    _, code, answer = await answered(client, cp, "C11", "clear-cache", {}, {"status": "Rejected"})
    assert (code, answer) == (200, {"status": "Rejected"})
    assert [e["status"] for e in await journal(client, "C11")] == ["Rejected", "Accepted"]


async def test_C15_offline_authorized_unknown_token(client, connect) -> None:
    """C15 (with E04): a station that let an unknown token start while offline sends the
    transaction late with offline true; the CSMS answers the token's real status (Invalid),
    so the station can stop it, and keeps the session as sent."""
    cp = await station(connect, "C15")
    t0 = recent() - timedelta(minutes=30)
    late = started("TX-C15", t0, token="C15-STRANGER", offline=True)
    assert (await cp.result("TransactionEvent", late))["idTokenInfo"]["status"] in (
        "Invalid",
        "Unknown",
    )
    [tx] = await get_json(client, "/api/transactions?charge_point_id=C15", role="viewer")
    assert (tx["start_time"], tx["id_tag"], tx["stop_time"]) == (iso(t0), "C15-STRANGER", None)


async def test_D01_send_local_list(client, connect) -> None:
    """D01: SendLocalList Full and Differential carry the version and entries asked for
    (each token with its idTokenInfo); the version counts only once the station Accepted it;
    a list naming a token twice, or a version below 1, is refused before anything is
    sent."""
    cp = await station(connect, "D01")
    full = {
        "version_number": 3,
        "update_type": "Full",
        "local_authorization_list": [
            {
                "id_token": {"id_token": "D01-A", "type": "ISO14443"},
                "id_token_info": {"status": "Accepted"},
            },
            {
                "id_token": {"id_token": "D01-B", "type": "ISO14443"},
                "id_token_info": {"status": "Blocked"},
            },
        ],
    }
    call, code, answer = await answered(
        client, cp, "D01", "send-local-list", full, {"status": "Accepted"}
    )
    assert call[2] == "SendLocalList" and (code, answer) == (200, {"status": "Accepted"})
    assert call[3]["versionNumber"] == 3 and call[3]["updateType"] == "Full"
    assert [
        (e["idToken"]["idToken"], e["idTokenInfo"]["status"])
        for e in call[3]["localAuthorizationList"]
    ] == [("D01-A", "Accepted"), ("D01-B", "Blocked")]
    services = client.app[SERVICES]
    assert (await services.charge_points.get("D01")).local_list_version == 3

    differential = {
        "version_number": 4,
        "update_type": "Differential",
        "local_authorization_list": [{"id_token": {"id_token": "D01-B", "type": "ISO14443"}}],
    }
    call, _, answer = await answered(
        client, cp, "D01", "send-local-list", differential, {"status": "VersionMismatch"}
    )
    assert call[3]["updateType"] == "Differential" and answer == {"status": "VersionMismatch"}
    assert (await services.charge_points.get("D01")).local_list_version == 3
    _, _, answer = await answered(
        client, cp, "D01", "send-local-list", differential, {"status": "Failed"}
    )
    assert answer == {"status": "Failed"}
    assert (await services.charge_points.get("D01")).local_list_version == 3

    twice = {
        **full,
        "version_number": 5,
        "local_authorization_list": full["local_authorization_list"][:1] * 2,
    }
    code, error = await refused(client, "D01", "send-local-list", twice)
    assert code == 400 and "twice" in error
    code, error = await refused(
        client, "D01", "send-local-list", {"version_number": 0, "update_type": "Full"}
    )
    assert code == 400 and "version_number" in error
    assert await cp.nothing_within(0.05)


async def test_D02_get_local_list_version(client, connect) -> None:
    """D02: GetLocalListVersion is sent with an empty payload; the version the station holds
    is shown and kept as its list version (0: no list)."""
    cp = await station(connect, "D02")
    call, code, answer = await answered(
        client, cp, "D02", "get-local-list-version", {}, {"versionNumber": 12}
    )
    assert call[2:] == ["GetLocalListVersion", {}]
    assert (code, answer) == (200, {"version_number": 12})
    assert (await client.app[SERVICES].charge_points.get("D02")).local_list_version == 12
    _, _, answer = await answered(
        client, cp, "D02", "get-local-list-version", {}, {"versionNumber": 0}
    )
    assert answer == {"version_number": 0}
    assert (await client.app[SERVICES].charge_points.get("D02")).local_list_version == 0
