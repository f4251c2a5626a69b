"""Id tags are case-insensitive (OCPP 1.6 idTag is a CiString): a 1.6 charge point over a
real WebSocket gets the stored tag's status whatever case it sends, a tag in a session is
that tag in any case, and the API, the portal and their filters treat two spellings as one
tag, while each session keeps the spelling its charger sent."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ocpp_core.db.engine import create_engine
from ocpp_core.db.models import Transaction
from ocpp_core.services.id_tags import TAG_FACTS
from ocpp_core.services.transaction_queries import TransactionFilter, filtered
from tests.helpers import OPERATOR, VIEWER

HTMX = {"HX-Request": "true"}


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def add(client, id_tag: str, **fields) -> tuple[int, dict]:
    response = await client.post(
        "/api/id-tags", json={"id_tag": id_tag, **fields}, headers=OPERATOR
    )
    return response.status, await response.json()


async def get(client, path: str):
    response = await client.get(path, headers=VIEWER)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_charger_gets_the_stored_tags_status_in_any_case(client, connect, portal) -> None:
    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    assert (await add(client, "ABC123", expiry_date=iso(expiry), parent_id_tag="FLEET"))[0] == 201
    assert (await add(client, "Lost-Card", blocked=True))[0] == 201
    cp = await connect("CP-CASE")
    await cp.boot()
    now = iso(datetime.now(UTC))

    async def authorize(tag: str) -> dict:
        return (await cp.result("Authorize", {"idTag": tag}))["idTagInfo"]

    good = await authorize("abc123")
    assert (good["status"], good["parentIdTag"]) == ("Accepted", "FLEET")
    assert datetime.fromisoformat(good["expiryDate"]) == expiry
    assert (await authorize("LOST-CARD"))["status"] == "Blocked"
    assert (await authorize("lost-card"))["status"] == "Blocked"
    assert (await authorize("abc1234"))["status"] == "Invalid"

    # A reservation for the tag, used by a start that spells it otherwise.
    reserving = asyncio.ensure_future(
        client.post(
            "/api/charge-points/CP-CASE/reserve-now",
            json={"connector_id": 1, "expiry_date": iso(expiry), "id_tag": "ABC123"},
            headers=OPERATOR,
        )
    )
    call = await cp.expect_call("ReserveNow")
    await cp.answer(call, {"status": "Accepted"})
    assert (await reserving).status == 200

    start = {"connectorId": 1, "idTag": "abc123", "meterStart": 0, "timestamp": now}
    first = await cp.result("StartTransaction", start)
    assert first["idTagInfo"]["status"] == "Accepted"
    [reservation] = await get(client, "/api/charge-points/CP-CASE/reservations")
    assert (reservation["status"], reservation["transaction_id"]) == (
        "Used",
        first["transactionId"],
    )
    # Authorize answers the tag's own status; the start is told the tag is in a session.
    assert (await authorize("Abc123"))["status"] == "Accepted"
    second = await cp.result("StartTransaction", {**start, "connectorId": 2, "idTag": "ABC123"})
    assert second["idTagInfo"]["status"] == "ConcurrentTx"
    # Retried as it was sent (the answer lost), a start is still the same session.
    assert (await cp.result("StartTransaction", start))["transactionId"] == first["transactionId"]

    # Each session keeps its charger's spelling; the tag's usage counts both.
    sessions = await get(client, "/api/transactions?charge_point_id=CP-CASE")
    assert sorted(t["id_tag"] for t in sessions) == ["ABC123", "abc123"]
    [tag] = await get(client, "/api/id-tags?q=Abc&usage=true")
    assert (tag["id_tag"], tag["in_session"]) == ("ABC123", True)
    assert tag["last_used"] is not None

    # The portal: the tag's row says it is in a session, the sessions filter finds both,
    # and a remote start with it in another case is held back.
    viewer = await portal("viewer")
    _, page = await viewer.get("/id-tags?q=abc")
    row = re.search(r'<tr id="tag-ABC123">.*?</tr>', page, re.S)[0]
    assert "in a session" in row and "never" not in row
    status, page = await viewer.get("/transactions?id_tag=aBc123")
    assert status == 200
    assert sorted(re.findall(r"<td>(abc123|ABC123)</td>", page, re.I)) == ["ABC123", "abc123"]
    status, csv = await viewer.get("/transactions.csv?id_tag=abc123")
    assert status == 200 and csv.count("CP-CASE") == 2
    operator = await portal("operator")
    form = {"id_tag": "aBC123", "connector_id": "1"}
    _, html = await operator.post("/charge-points/CP-CASE/remote-start", form, headers=HTMX)
    assert "id tag aBC123 is in a session already" in html
    assert await cp.nothing_within(0.1)

    # Stopping: the other open session of the tag is still concurrent, whatever its case.
    stop = {"transactionId": first["transactionId"], "meterStop": 10, "timestamp": now}
    stopped = await cp.result("StopTransaction", {**stop, "idTag": "ABC123"})
    assert stopped["idTagInfo"]["status"] == "ConcurrentTx"
    stop = {**stop, "transactionId": second["transactionId"], "idTag": "abc123"}
    assert (await cp.result("StopTransaction", stop))["idTagInfo"]["status"] == "Accepted"
    [tag] = await get(client, "/api/id-tags?q=abc123&usage=true")
    assert tag["in_session"] is False
    assert (await authorize("ABC123"))["status"] == "Accepted"


async def test_one_tag_whatever_its_case_in_the_api_and_portal(client, portal) -> None:
    """Adding a tag that exists in another case is refused with the reason (it is the
    same tag), never a database error; the same spelling still replaces it; deleting
    and editing find it in any case."""
    assert (await add(client, "CARD-X1"))[0] == 201
    status, answer = await add(client, "card-x1", blocked=True)
    assert status == 400
    assert "'card-x1' exists already as 'CARD-X1'" in answer["error"]
    assert "case-insensitive" in answer["error"]
    assert (await add(client, "CARD-X1", blocked=True))[0] == 201  # replaced, as before
    [tag] = await get(client, "/api/id-tags?q=card-x")
    assert (tag["id_tag"], tag["blocked"]) == ("CARD-X1", True)

    # Two at once, in two spellings: one is added, the other refused.
    answers = await asyncio.gather(add(client, "RACE"), add(client, "race"))
    assert sorted(status for status, _ in answers) == [201, 400]
    assert len(await get(client, "/api/id-tags?q=race")) == 1

    operator = await portal("operator")
    status, html = await operator.post("/id-tags", {"id_tag": "Card-X1"})
    assert status == 400
    assert "Id tag Card-X1 exists already as CARD-X1 (id tags are case-insensitive)" in html
    status, _, html = await operator.submit("/id-tags/card-x1", {"blocked": ""})
    assert status == 303 and "Id tag CARD-X1 saved." in html
    [tag] = await get(client, "/api/id-tags?q=card-x")
    assert (tag["id_tag"], tag["blocked"]) == ("CARD-X1", False)

    response = await client.delete("/api/id-tags/card-X1", headers=OPERATOR)
    assert response.status == 204
    assert await get(client, "/api/id-tags?q=card-x") == []
    response = await client.delete("/api/id-tags/card-X1", headers=OPERATOR)
    assert response.status == 404


async def test_a_local_list_naming_a_tag_twice_in_two_cases_is_refused(client, connect) -> None:
    cp = await connect("CP-LIST")
    await cp.boot()
    entries = [
        {"id_tag": "ABC", "id_tag_info": {"status": "Accepted"}},
        {"id_tag": "abc", "id_tag_info": {"status": "Blocked"}},
    ]
    response = await client.post(
        "/api/charge-points/CP-LIST/send-local-list",
        json={"list_version": 2, "update_type": "Full", "local_authorization_list": entries},
        headers=OPERATOR,
    )
    assert response.status == 400
    assert "names an id tag twice" in (await response.json())["error"]
    assert await cp.nothing_within(0.1)


async def _plan(connection: AsyncConnection, statement: Any, values: dict[str, Any]) -> str:
    """The database's plan of one of the services' own statements, as it runs it."""
    compiled = statement.compile(dialect=connection.dialect)
    bound = compiled.construct_params(values)
    parameters = tuple(bound[name] for name in compiled.positiontup)
    if connection.dialect.name == "sqlite":
        rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", parameters)
        return "\n".join(row[3] for row in rows)
    # The tables are empty, so any plan would do: reading one whole must be the last
    # resort, as it is on a large one.
    await connection.exec_driver_sql("SET enable_seqscan = off")
    rows = await connection.exec_driver_sql(f"EXPLAIN {compiled}", parameters)
    return "\n".join(row[0] for row in rows)


async def test_lookups_in_any_case_are_index_lookups(database_url: str) -> None:
    """Compared by lower() on both sides, a tag is found on the indexes of lower(): at
    every Authorize and start (the tag, and its open session) and in the sessions filter,
    never by reading id_tags or transactions whole."""
    engine = create_engine(database_url)
    by_tag = filtered(select(Transaction.id), TransactionFilter(id_tag="x"))
    async with engine.connect() as connection:
        authorize = await _plan(
            connection, TAG_FACTS, {"id_tag": "abc123", "owner": "", "ignore": 0}
        )
        in_filter = await _plan(connection, by_tag, {})
    await engine.dispose()
    assert "uq_id_tags_lower_id_tag" in authorize, authorize
    assert "ix_transactions_tag_lower_active" in authorize, authorize
    assert "ix_transactions_tag_lower_active" in in_filter, in_filter
    for plan in (authorize, in_filter):
        assert not re.search(r"SCAN (id_tags|transactions)\b|Seq Scan", plan), plan
