"""The OCPP 1.6 operations a central system sends, one entry each: its URL name, its
action, the checks of meaning its schema cannot make (OCPP 1.6 section 5), what an answer
changes in what we keep, the summary of an answer the portal shows, and how the portal's
form reads. `from_api` and `from_form` make an entry's request (the `ocpp.v16.call`
payload's fields, snake_case) of a JSON API body or a form's fields; the schema check and
the journal are `CentralSystem.operate`'s."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ocpp.charge_point import remove_nones, serialize_as_dict
from ocpp.v16 import call

from ocpp_core.catalogue import (
    Check,
    Form,
    KeyChange,
    Operation,
    Reader,
    is_file_url,
    reservation_exists,
)
from ocpp_core.db.models import utcnow
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.field_values import finite_number, text, utc_datetime, whole_number
from ocpp_core.passwords import check_charge_point_key
from ocpp_core.request_fields import check_fields
from ocpp_core.services import Services
from ocpp_core.services.message_log import is_secret_key
from ocpp_core.timeutil import parse_datetime

# --- checks of meaning --------------------------------------------------------------------


def _not_negative(request: dict[str, Any], *names: str) -> None:
    for name in names:
        if request.get(name) is not None and request[name] < 0:
            raise InvalidInput(f"{name}: {request[name]} is less than the minimum of 0")


def _location(value: str, name: str) -> None:
    if not is_file_url(value):
        raise InvalidInput(f"{name} must be an ftp(s), sftp or http(s) URL, got {value!r}")


def _rules(*checks: Check) -> Check:
    """An operation's checks, after the one every 1.6 request gets: its connector id is
    never negative (no 1.6 schema says so)."""

    async def check(services: Services, charge_point_id: str, request: dict[str, Any]) -> None:
        _not_negative(request, "connector_id")
        for each in checks:
            await each(services, charge_point_id, request)

    return check


async def _active_transaction(
    services: Services, charge_point_id: str, transaction_id: int
) -> None:
    try:
        tx = await services.transaction_queries.get(transaction_id)
    except NotFound:
        raise InvalidInput(f"transaction {transaction_id} does not exist") from None
    if tx.charge_point_id != charge_point_id:
        raise InvalidInput(
            f"transaction {transaction_id} does not belong to charge point {charge_point_id!r}"
        )
    if not tx.active:
        raise InvalidInput(f"transaction {transaction_id} has already stopped")


async def _check_remote_start(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    if request.get("connector_id") == 0:
        raise InvalidInput("connector_id must be greater than 0 for RemoteStartTransaction")
    profile = request.get("charging_profile")
    if profile is not None and profile.get("charging_profile_purpose") != "TxProfile":
        raise InvalidInput(
            "charging_profile.charging_profile_purpose must be TxProfile for RemoteStartTransaction"
        )


async def _check_remote_stop(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    await _active_transaction(services, charge_point_id, request["transaction_id"])


async def _check_unlock(services: Services, charge_point_id: str, request: dict[str, Any]) -> None:
    if request.get("connector_id") == 0:
        raise InvalidInput("connector_id must be greater than 0 for UnlockConnector")


async def _check_reserve(services: Services, charge_point_id: str, request: dict[str, Any]) -> None:
    if parse_datetime(request["expiry_date"]) <= utcnow():
        raise InvalidInput("expiry_date must be in the future")
    existing = await services.operations.reservation(request["reservation_id"])
    if existing is not None and (
        existing.charge_point_id != charge_point_id or existing.status != "Reserved"
    ):
        raise InvalidInput(f"reservation_id {request['reservation_id']} is already used")


async def _check_configuration(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    if await services.operations.is_readonly(charge_point_id, request["key"]):
        raise InvalidInput(f"configuration key {request['key']} is read-only")
    if is_secret_key(request["key"]):
        check_charge_point_key(request["value"])


async def _check_local_list(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    if request["list_version"] < 1:
        raise InvalidInput("list_version must be at least 1 (0 and -1 are reserved)")
    entries = request.get("local_authorization_list") or []
    tags = [entry["id_tag"] for entry in entries]
    if len(tags) != len({tag.lower() for tag in tags}):  # id tags are case-insensitive
        raise InvalidInput("local_authorization_list names an id tag twice (in any case)")
    if request["update_type"] == "Full" and any("id_tag_info" not in entry for entry in entries):
        raise InvalidInput("a Full update needs id_tag_info for every entry")


async def _check_profile(services: Services, charge_point_id: str, request: dict[str, Any]) -> None:
    profile = request["cs_charging_profiles"]
    purpose = profile["charging_profile_purpose"]
    connector_id = request["connector_id"]
    if purpose == "ChargePointMaxProfile" and connector_id != 0:
        raise InvalidInput("a ChargePointMaxProfile is set on connector_id 0")
    if purpose == "TxProfile":
        if connector_id == 0:
            raise InvalidInput("a TxProfile is set on a connector greater than 0")
        if profile.get("transaction_id") is not None:
            await _active_transaction(services, charge_point_id, profile["transaction_id"])
    elif profile.get("transaction_id") is not None:
        raise InvalidInput("only a TxProfile names a transaction_id")
    if not profile["charging_schedule"]["charging_schedule_period"]:
        raise InvalidInput("charging_schedule_period must have at least one period")


async def _check_schedule(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    if request["duration"] <= 0:
        raise InvalidInput("duration must be a positive number of seconds")


async def _check_diagnostics(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    await _check_transfer(services, charge_point_id, request)
    start, stop = request.get("start_time"), request.get("stop_time")
    if start and stop and parse_datetime(start) >= parse_datetime(stop):
        raise InvalidInput("start_time must be before stop_time")


async def _check_transfer(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    _location(request["location"], "location")
    _not_negative(request, "retries", "retry_interval")


# --- what answers change ------------------------------------------------------------------

# A configuration change that counts (some take effect after a reboot).
ACCEPTED = ("Accepted", "RebootRequired")


async def _configuration_read(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    await services.operations.configuration_read(
        charge_point_id, answer.get("configuration_key") or []
    )


async def _configuration_changed(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] in ACCEPTED:
        await services.operations.configuration_changed(
            charge_point_id, request["key"], request["value"]
        )


async def _reserved(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        await services.operations.reserved(
            charge_point_id,
            request["reservation_id"],
            request["connector_id"],
            request["id_tag"],
            request.get("parent_id_tag"),
            parse_datetime(request["expiry_date"]),
        )


async def _cancelled(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        await services.operations.reservation_cancelled(request["reservation_id"])


async def _local_list_sent(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        await services.operations.set_local_list_version(charge_point_id, request["list_version"])


async def _local_list_read(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    await services.operations.set_local_list_version(
        charge_point_id, answer["list_version"], sent=False
    )


async def _profile_set(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        await services.operations.charging_profile_set(
            charge_point_id, request["connector_id"], request["cs_charging_profiles"]
        )


async def _profiles_cleared(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] != "Accepted":
        return
    profiles = services.operations
    if request.get("id") is not None:  # an id names one profile, whatever else is given
        await profiles.charging_profiles_cleared(charge_point_id, profile_id=request["id"])
        return
    await profiles.charging_profiles_cleared(
        charge_point_id,
        evse_id=request.get("connector_id"),
        purpose=request.get("charging_profile_purpose"),
        stack_level=request.get("stack_level"),
    )


# --- what the central system fills in ------------------------------------------------------


async def _reservation_id(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> dict[str, Any]:
    if "reservation_id" in request:
        return request
    return {**request, "reservation_id": await services.operations.next_reservation_id()}


async def _local_list(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> dict[str, Any]:
    """Without a list: the id-tag table's (all of it, or what changed since the last list
    sent); without a version, the next one."""
    if "local_authorization_list" in request:
        if "list_version" in request:
            return request
        version = await services.operations.next_local_list_version(charge_point_id)
        return {"list_version": version, **request}
    update_type = request.get("update_type", "Full")
    version, entries = await services.operations.local_list(charge_point_id, update_type)
    return {"list_version": version, **request, "local_authorization_list": entries}


# --- summaries of answers -----------------------------------------------------------------

# A status that means it went (or will go) as asked.
OK = frozenset({"Accepted", "Unlocked", "RebootRequired", "Scheduled"})


def _status(answer: dict[str, Any]) -> tuple[str, bool, str | None]:
    status = answer.get("status")
    return str(status), status in OK, None


def _keys_read(answer: dict[str, Any]) -> tuple[str, bool, str | None]:
    known = len(answer.get("configuration_key") or [])
    unknown = answer.get("unknown_key") or []
    detail = f"unknown: {', '.join(unknown)}" if unknown else None
    return f"{known} key{'s' if known != 1 else ''} read", True, detail


def _list_version(answer: dict[str, Any]) -> tuple[str, bool, str | None]:
    return f"version {answer['list_version']}", True, None


def _diagnostics_file(answer: dict[str, Any]) -> tuple[str, bool, str | None]:
    file_name = answer.get("file_name")
    return ("Accepted", True, f"file {file_name}") if file_name else ("no file", False, None)


def _firmware(answer: dict[str, Any]) -> tuple[str, bool, str | None]:
    return "Accepted", True, "progress follows as firmware status notifications"


def _schedule(answer: dict[str, Any]) -> tuple[str, bool, str | None]:
    if answer["status"] != "Accepted":
        return _status(answer)
    # chargingSchedule is optional in GetCompositeSchedule.conf: Accepted with none is a
    # valid answer (nothing scheduled).
    schedule = answer.get("charging_schedule")
    if not schedule:
        return "Accepted", True, "no schedule"
    unit = schedule["charging_rate_unit"]
    periods = schedule["charging_schedule_period"]
    detail = "; ".join(f"from {p['start_period']} s: {p['limit']} {unit}" for p in periods)
    return "Accepted", True, detail


def _data(answer: dict[str, Any]) -> tuple[str, bool, str | None]:
    text, ok, _ = _status(answer)
    return text, ok, f"data: {answer['data']}" if answer.get("data") else None


# --- the portal's forms -------------------------------------------------------------------


def _keys(value: str, _name: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def _as(read: Reader, label: str) -> Reader:
    """`read`, naming the field `label` in what it says of a wrong value."""
    return lambda value, _name: read(value, label)


def _one_period(values: dict[str, Any]) -> dict[str, Any]:
    """A charging profile of one schedule period: what an operator sets by hand (a limit
    from now on)."""
    profile = dict(values)
    missing = [n for n in ("charging_profile_id", "stack_level", "limit") if n not in profile]
    if missing:
        raise InvalidInput(f"give the {', '.join(m.replace('_', ' ') for m in missing)}")
    connector_id = profile.pop("connector_id", 0)
    limit = profile.pop("limit")
    unit = profile.pop("charging_rate_unit", "A")
    profile.setdefault("charging_profile_purpose", "TxDefaultProfile")
    profile.setdefault("charging_profile_kind", "Relative")
    profile["charging_schedule"] = {
        "charging_rate_unit": unit,
        "charging_schedule_period": [{"start_period": 0, "limit": limit}],
    }
    return {"connector_id": connector_id, "cs_charging_profiles": profile}


def _session_chosen(values: dict[str, Any]) -> dict[str, Any]:
    if "transaction_id" not in values:
        raise InvalidInput("choose the session to stop")
    return values


_PROFILE_FORM = Form(
    {
        "charging_profile_id": whole_number,
        "stack_level": whole_number,
        "charging_profile_purpose": text,
        "charging_profile_kind": text,
        "charging_rate_unit": text,
        "limit": finite_number,
        "transaction_id": whole_number,
        "connector_id": whole_number,
    },
    _one_period,
)
# The session controls of the charge point page: an empty id tag is sent as it is.
_REMOTE_START_FORM = Form(
    {"id_tag": text, "connector_id": _as(whole_number, "connector")},
    lambda values: {"id_tag": "", **values},
)
_REMOTE_STOP_FORM = Form({"transaction_id": _as(whole_number, "transaction")}, _session_chosen)
_RETRIES = {"retries": whole_number, "retry_interval": whole_number}

_AUTHORIZATION_KEY = KeyChange(
    "change authorization key",
    lambda request: is_secret_key(request.get("key")),
    lambda answer: f"answered {answer['status']}",
)


def _operation(name: str, action: str, *checks: Check, **parts: Any) -> Operation:
    """An entry with the connector rule before its own checks, and the plain status as
    its summary unless it says otherwise."""
    parts.setdefault("summary", _status)
    return Operation(name, action, check=_rules(*checks), **parts)


# `POST /api/charge-points/{id}/{name}`, and (those with a form) the portal's
# `POST /charge-points/{id}/operations/{name}`.
_ENTRIES = [
    _operation("reset", "Reset", form=Form({"type": text})),
    _operation(
        "change-availability",
        "ChangeAvailability",
        form=Form({"connector_id": whole_number, "type": text}),
    ),
    _operation(
        "get-configuration",
        "GetConfiguration",
        apply=_configuration_read,
        summary=_keys_read,
        form=Form({"key": _keys}),
    ),
    _operation(
        "change-configuration",
        "ChangeConfiguration",
        _check_configuration,
        apply=_configuration_changed,
        form=Form({"key": text, "value": text}),
        key_change=_AUTHORIZATION_KEY,
    ),
    _operation("clear-cache", "ClearCache", form=Form({})),
    _operation(
        "unlock-connector",
        "UnlockConnector",
        _check_unlock,
        form=Form({"connector_id": whole_number}),
    ),
    _operation(
        "data-transfer",
        "DataTransfer",
        summary=_data,
        form=Form({"vendor_id": text, "message_id": text, "data": text}),
    ),
    _operation(
        "trigger-message",
        "TriggerMessage",
        form=Form({"requested_message": text, "connector_id": whole_number}),
    ),
    _operation(
        "reserve-now",
        "ReserveNow",
        _check_reserve,
        apply=_reserved,
        complete=_reservation_id,
        fills=frozenset({"reservation_id"}),
        form=Form(
            {
                "connector_id": whole_number,
                "id_tag": text,
                "expiry_date": utc_datetime,
                "parent_id_tag": text,
            }
        ),
    ),
    _operation(
        "cancel-reservation",
        "CancelReservation",
        reservation_exists,
        apply=_cancelled,
        form=Form({"reservation_id": whole_number}),
    ),
    _operation(
        "send-local-list",
        "SendLocalList",
        _check_local_list,
        apply=_local_list_sent,
        complete=_local_list,
        fills=frozenset({"list_version", "local_authorization_list"}),
        form=Form({"update_type": text}),
    ),
    _operation(
        "get-local-list-version",
        "GetLocalListVersion",
        apply=_local_list_read,
        summary=_list_version,
        form=Form({}),
    ),
    _operation(
        "set-charging-profile",
        "SetChargingProfile",
        _check_profile,
        apply=_profile_set,
        form=_PROFILE_FORM,
    ),
    _operation(
        "clear-charging-profile",
        "ClearChargingProfile",
        apply=_profiles_cleared,
        form=Form(
            {
                "id": whole_number,
                "connector_id": whole_number,
                "charging_profile_purpose": text,
                "stack_level": whole_number,
            }
        ),
    ),
    _operation(
        "get-composite-schedule",
        "GetCompositeSchedule",
        _check_schedule,
        summary=_schedule,
        form=Form(
            {"connector_id": whole_number, "duration": whole_number, "charging_rate_unit": text}
        ),
    ),
    _operation(
        "get-diagnostics",
        "GetDiagnostics",
        _check_diagnostics,
        summary=_diagnostics_file,
        form=Form(
            {
                "location": text,
                **_RETRIES,
                "start_time": utc_datetime,
                "stop_time": utc_datetime,
            }
        ),
    ),
    _operation(
        "update-firmware",
        "UpdateFirmware",
        _check_transfer,
        summary=_firmware,
        form=Form({"location": text, "retrieve_date": utc_datetime, **_RETRIES}),
    ),
    # The OCPP 1.6 security extension, as far as the ocpp library has its schemas.
    _operation("extended-trigger-message", "ExtendedTriggerMessage"),
    _operation("get-log", "GetLog"),
    _operation("signed-update-firmware", "SignedUpdateFirmware"),
    _operation("install-certificate", "InstallCertificate"),
    _operation("delete-certificate", "DeleteCertificate"),
    _operation("get-installed-certificate-ids", "GetInstalledCertificateIds"),
    _operation("certificate-signed", "CertificateSigned"),
]
# Remote start and stop have routes of their own, `/remote-start` and `/remote-stop` (the
# API's and the charge point page's), shared with 2.0.1.
_SESSIONS = [
    _operation(
        "remote-start",
        "RemoteStartTransaction",
        _check_remote_start,
        form=_REMOTE_START_FORM,
    ),
    _operation(
        "remote-stop",
        "RemoteStopTransaction",
        _check_remote_stop,
        form=_REMOTE_STOP_FORM,
    ),
]
CATALOGUE: dict[str, Operation] = {entry.name: entry for entry in _ENTRIES}
BY_ACTION: dict[str, Operation] = {entry.action: entry for entry in _ENTRIES + _SESSIONS}


# --- requests -----------------------------------------------------------------------------


def _request(action: str, values: dict[str, Any]) -> dict[str, Any]:
    """`values` as the `ocpp.v16.call` payload of `action` has them: in its order, without
    the fields left empty."""
    try:
        payload = getattr(call, action)(**values)
    except TypeError as error:  # a required field left out
        raise InvalidInput(str(error)) from None
    request: dict[str, Any] = remove_nones(serialize_as_dict(payload))
    return request


async def _completed(
    services: Services, charge_point_id: str, entry: Operation, request: dict[str, Any]
) -> dict[str, Any]:
    if entry.complete is None:
        return request
    return await entry.complete(services, charge_point_id, request)


async def from_api(
    services: Services, charge_point_id: str, entry: Operation, body: dict[str, Any]
) -> dict[str, Any]:
    """The request of a JSON API body (snake_case): each field one of the payload's and
    every required one there but those the entry `fills`, then those filled in."""
    fields = dataclasses.fields(getattr(call, entry.action))
    required = {
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    check_fields(body, required - entry.fills, {f.name for f in fields})
    return _request(entry.action, await _completed(services, charge_point_id, entry, body))


async def from_form(
    services: Services, charge_point_id: str, entry: Operation, fields: Mapping[str, str]
) -> dict[str, Any]:
    """The request of the portal form's fields (their text, stripped)."""
    if not isinstance(entry.form, Form):
        raise NotFound(f"{entry.name} has no form")
    values = entry.form.read(fields)
    return _request(entry.action, await _completed(services, charge_point_id, entry, values))
