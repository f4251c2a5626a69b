"""What the schema of an operation cannot say: rules of meaning checked before a CALL is
sent, so the charge point never gets a request it must refuse (OCPP 1.6 section 5)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from ocpp_core.db.models import utcnow
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.passwords import check_charge_point_key
from ocpp_core.services import Services
from ocpp_core.services.message_log import is_secret_key
from ocpp_core.timeutil import parse_datetime

FILE_SCHEMES = ("ftp", "ftps", "http", "https", "sftp")


def _location(value: str, name: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme.lower() not in FILE_SCHEMES or not parsed.netloc:
        raise InvalidInput(f"{name} must be an ftp(s), sftp or http(s) URL, got {value!r}")


def _not_negative(request: dict[str, Any], *names: str) -> None:
    for name in names:
        if request.get(name) is not None and request[name] < 0:
            raise InvalidInput(f"{name}: {request[name]} is less than the minimum of 0")


async def _active_transaction(
    services: Services, charge_point_id: str, transaction_id: int
) -> None:
    try:
        tx = await services.transactions.get(transaction_id)
    except NotFound:
        raise InvalidInput(f"transaction {transaction_id} does not exist") from None
    if tx.charge_point_id != charge_point_id:
        raise InvalidInput(
            f"transaction {transaction_id} does not belong to charge point {charge_point_id!r}"
        )
    if not tx.active:
        raise InvalidInput(f"transaction {transaction_id} has already stopped")


async def check(
    services: Services, charge_point_id: str, action: str, request: dict[str, Any]
) -> None:
    """Raise InvalidInput if `request` (snake_case, schema-valid) makes no sense."""
    connector_id = request.get("connector_id")
    if connector_id is not None and connector_id < 0:
        raise InvalidInput(f"connector_id: {connector_id} is less than the minimum of 0")

    if action == "RemoteStartTransaction":
        if connector_id is not None and connector_id == 0:
            raise InvalidInput("connector_id must be greater than 0 for RemoteStartTransaction")
        profile = request.get("charging_profile")
        if profile is not None and profile.get("charging_profile_purpose") != "TxProfile":
            raise InvalidInput(
                "charging_profile.charging_profile_purpose must be TxProfile "
                "for RemoteStartTransaction"
            )
    elif action == "RemoteStopTransaction":
        await _active_transaction(services, charge_point_id, request["transaction_id"])
    elif action == "UnlockConnector":
        if connector_id == 0:
            raise InvalidInput("connector_id must be greater than 0 for UnlockConnector")
    elif action == "ReserveNow":
        if parse_datetime(request["expiry_date"]) <= utcnow():
            raise InvalidInput("expiry_date must be in the future")
        existing = await services.operations.reservation(request["reservation_id"])
        if existing is not None and (
            existing.charge_point_id != charge_point_id or existing.status != "Reserved"
        ):
            raise InvalidInput(f"reservation_id {request['reservation_id']} is already used")
    elif action == "CancelReservation":
        existing = await services.operations.reservation(request["reservation_id"])
        if existing is None or existing.charge_point_id != charge_point_id:
            raise InvalidInput(
                f"reservation {request['reservation_id']} does not exist on {charge_point_id!r}"
            )
    elif action == "ChangeConfiguration":
        if await services.operations.is_readonly(charge_point_id, request["key"]):
            raise InvalidInput(f"configuration key {request['key']} is read-only")
        if is_secret_key(request["key"]):
            check_charge_point_key(request["value"])
    elif action == "SendLocalList":
        if request["list_version"] < 1:
            raise InvalidInput("list_version must be at least 1 (0 and -1 are reserved)")
        tags = [entry["id_tag"] for entry in request.get("local_authorization_list") or []]
        if len(tags) != len(set(tags)):
            raise InvalidInput("local_authorization_list names an id tag twice")
        if request["update_type"] == "Full" and any(
            "id_tag_info" not in entry for entry in request.get("local_authorization_list") or []
        ):
            raise InvalidInput("a Full update needs id_tag_info for every entry")
    elif action == "SetChargingProfile":
        profile = request["cs_charging_profiles"]
        purpose = profile["charging_profile_purpose"]
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
    elif action == "GetCompositeSchedule":
        if request["duration"] <= 0:
            raise InvalidInput("duration must be a positive number of seconds")
    elif action == "GetDiagnostics":
        _location(request["location"], "location")
        _not_negative(request, "retries", "retry_interval")
        start, stop = request.get("start_time"), request.get("stop_time")
        if start and stop and parse_datetime(start) >= parse_datetime(stop):
            raise InvalidInput("start_time must be before stop_time")
    elif action == "UpdateFirmware":
        _location(request["location"], "location")
        _not_negative(request, "retries", "retry_interval")
