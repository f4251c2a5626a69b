"""The OCPP 2.0.1 operations a central system sends, one entry each: its URL name, its
action, the checks of meaning its schema cannot make, and how an answer updates what we
keep (`ocpp_core.catalogue`). The JSON API and the portal read this catalogue; the schema
check, the checks of meaning, the journal and what the answer changes are
`CentralSystem.operate`'s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ocpp_core.catalogue import KeyChange, Operation, RequestForm, is_file_url, reservation_exists
from ocpp_core.db.models import utcnow
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.passwords import check_charge_point_key
from ocpp_core.services import Services
from ocpp_core.services.message_log import is_secret_variable
from ocpp_core.timeutil import parse_datetime
from ocpp_core.v201 import forms

# --- checks of meaning --------------------------------------------------------------------


async def _evse_exists(services: Services, charge_point_id: str, evse_id: int | None) -> None:
    if evse_id is None or evse_id == 0:
        return
    view = await services.charge_points.get(charge_point_id)
    known = {c.evse_id for c in view.connectors if c.evse_id}
    if known and evse_id not in known:
        raise InvalidInput(
            f"evse_id {evse_id} is not an EVSE of {charge_point_id!r} "
            f"(it reported {', '.join(map(str, sorted(known)))})"
        )


async def _check_evse(services: Services, charge_point_id: str, request: dict[str, Any]) -> None:
    evse = request.get("evse")
    evse_id = request.get("evse_id", evse.get("id") if isinstance(evse, dict) else None)
    await _evse_exists(services, charge_point_id, evse_id)


async def _check_set_variables(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    for item in request["set_variable_data"]:
        variable = await services.device_model.variable(
            charge_point_id, item["component"], item["variable"], item.get("attribute_type")
        )
        if variable is not None and variable.mutability == "ReadOnly":
            name = f"{item['component']['name']}.{item['variable']['name']}"
            raise InvalidInput(f"{name} is read-only on {charge_point_id!r}")
        if is_secret_variable(item["component"]["name"], item["variable"]["name"]):
            check_charge_point_key(item["attribute_value"])


def _name(part: object) -> object:
    return part.get("name") if isinstance(part, dict) else None


def _sets_password(request: dict[str, Any]) -> bool:
    """Whether a SetVariables sets the charger's BasicAuthPassword, its HTTP Basic key.
    Asked before the schema check (it decides who may send it): a malformed request is
    read as far as it goes, and its schema says what is wrong."""
    items = request.get("set_variable_data")
    return isinstance(items, list) and any(
        isinstance(item, dict)
        and is_secret_variable(_name(item.get("component")), _name(item.get("variable")))
        for item in items
    )


def _password_outcome(answer: dict[str, Any]) -> str:
    return "answered " + ", ".join(r["attribute_status"] for r in answer["set_variable_result"])


_PASSWORD = KeyChange("change basic auth password", _sets_password, _password_outcome)


async def _check_request_stop(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    tx = await services.transaction_queries.by_ocpp_id(charge_point_id, request["transaction_id"])
    if tx is None:
        raise InvalidInput(
            f"transaction {request['transaction_id']!r} is not a session of {charge_point_id!r}"
        )
    if tx.stop_time is not None:
        raise InvalidInput(f"transaction {request['transaction_id']!r} has already stopped")


async def _check_request_start(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    await _evse_exists(services, charge_point_id, request.get("evse_id"))
    profile = request.get("charging_profile")
    if profile is not None and profile.get("charging_profile_purpose") != "TxProfile":
        raise InvalidInput("charging_profile.charging_profile_purpose must be TxProfile")


async def _check_reserve(services: Services, charge_point_id: str, request: dict[str, Any]) -> None:
    if parse_datetime(request["expiry_date_time"]) <= utcnow():
        raise InvalidInput("expiry_date_time must be in the future")
    await _evse_exists(services, charge_point_id, request.get("evse_id"))
    existing = await services.operations.reservation(request["id"])
    if existing is not None and (
        existing.charge_point_id != charge_point_id or existing.status != "Reserved"
    ):
        raise InvalidInput(f"reservation id {request['id']} is already used")


async def _check_local_list(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    if request["version_number"] < 1:
        raise InvalidInput("version_number must be at least 1")
    tokens = [e["id_token"]["id_token"] for e in request.get("local_authorization_list") or []]
    if len(tokens) != len({token.lower() for token in tokens}):  # case-insensitive
        raise InvalidInput("local_authorization_list names an id token twice (in any case)")


async def _check_location(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    for field in ("firmware", "log"):
        if field in request:
            location = request[field].get("location") or request[field].get("remote_location")
            if not is_file_url(location or ""):
                raise InvalidInput(f"{field} location must be an ftp(s), sftp or http(s) URL")


# --- what answers change ------------------------------------------------------------------


async def _read_variables(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    await services.device_model.values_read(charge_point_id, answer["get_variable_result"])


async def _set_variables(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    results = answer["set_variable_result"]
    await services.device_model.values_set(charge_point_id, request["set_variable_data"], results)
    # BasicAuthPassword becomes the charger's key once it has Accepted it, never before
    # (as 1.6's AuthorizationKey).
    for item, result in zip(request["set_variable_data"], results, strict=False):
        if is_secret_variable(item["component"]["name"], item["variable"]["name"]) and result[
            "attribute_status"
        ] in ("Accepted", "RebootRequired"):
            await services.charge_points.set_password(charge_point_id, item["attribute_value"])


async def _reserved(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        group = request.get("group_id_token") or {}
        await services.operations.reserved(
            charge_point_id,
            request["id"],
            request.get("evse_id") or 0,
            request["id_token"]["id_token"],
            group.get("id_token"),
            parse_datetime(request["expiry_date_time"]),
        )


async def _cancelled(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        await services.operations.reservation_ended(
            charge_point_id, request["reservation_id"], "Removed"
        )


async def _local_list_sent(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        await _set_local_list_version(services, charge_point_id, request["version_number"])


async def _local_list_read(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    await _set_local_list_version(services, charge_point_id, answer["version_number"])


async def _set_local_list_version(services: Services, charge_point_id: str, version: int) -> None:
    await services.operations.set_local_list_version(charge_point_id, version)


async def _display_message_set(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        await services.device_model.display_messages(charge_point_id, [request["message"]])


async def _display_message_cleared(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        await services.device_model.display_message_cleared(charge_point_id, request["id"])


async def _monitors_set(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    await services.device_model.monitors_set(
        charge_point_id, request["set_monitoring_data"], answer["set_monitoring_result"]
    )


async def _monitors_cleared(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    await services.device_model.monitors_cleared(charge_point_id, answer["clear_monitoring_result"])


async def _profile_set(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        await services.operations.reported_charging_profiles(
            charge_point_id, request["evse_id"], [request["charging_profile"]]
        )


async def _profiles_cleared(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer["status"] == "Accepted":
        criteria = request.get("charging_profile_criteria") or {}
        await services.operations.charging_profiles_cleared(
            charge_point_id,
            profile_id=request.get("charging_profile_id"),
            evse_id=criteria.get("evse_id"),
            purpose=criteria.get("charging_profile_purpose"),
            stack_level=criteria.get("stack_level"),
        )


async def _certificates_listed(
    services: Services, charge_point_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    await services.operations.installed_certificates(
        charge_point_id,
        answer.get("certificate_hash_data_chain") or [],
        complete=not request.get("certificate_type"),
    )


_ENTRIES = [
    Operation(
        "cancel-reservation",
        "CancelReservation",
        reservation_exists,
        _cancelled,
        form=forms.CANCEL_RESERVATION,
    ),
    Operation("certificate-signed", "CertificateSigned", admin_only=True),
    Operation(
        "change-availability", "ChangeAvailability", _check_evse, form=forms.CHANGE_AVAILABILITY
    ),
    Operation("clear-cache", "ClearCache"),
    Operation(
        "clear-charging-profile",
        "ClearChargingProfile",
        apply=_profiles_cleared,
        form=forms.CLEAR_CHARGING_PROFILE,
    ),
    Operation("clear-display-message", "ClearDisplayMessage", apply=_display_message_cleared),
    Operation("clear-variable-monitoring", "ClearVariableMonitoring", apply=_monitors_cleared),
    Operation("cost-updated", "CostUpdated"),
    Operation("customer-information", "CustomerInformation"),
    Operation("data-transfer", "DataTransfer", form=forms.DATA_TRANSFER),
    Operation("delete-certificate", "DeleteCertificate", admin_only=True),
    Operation("get-base-report", "GetBaseReport", form=forms.GET_BASE_REPORT),
    Operation("get-charging-profiles", "GetChargingProfiles"),
    Operation("get-composite-schedule", "GetCompositeSchedule", _check_evse),
    Operation("get-display-messages", "GetDisplayMessages"),
    Operation(
        "get-installed-certificate-ids", "GetInstalledCertificateIds", apply=_certificates_listed
    ),
    Operation("get-local-list-version", "GetLocalListVersion", apply=_local_list_read),
    Operation("get-log", "GetLog", _check_location, form=forms.GET_LOG),
    Operation("get-monitoring-report", "GetMonitoringReport"),
    Operation("get-report", "GetReport"),
    Operation("get-transaction-status", "GetTransactionStatus"),
    Operation("get-variables", "GetVariables", apply=_read_variables, form=forms.GET_VARIABLES),
    Operation("install-certificate", "InstallCertificate", admin_only=True),
    Operation("publish-firmware", "PublishFirmware"),
    Operation("request-start-transaction", "RequestStartTransaction", _check_request_start),
    Operation("request-stop-transaction", "RequestStopTransaction", _check_request_stop),
    Operation("reserve-now", "ReserveNow", _check_reserve, _reserved, form=forms.RESERVE_NOW),
    Operation("reset", "Reset", _check_evse, form=forms.RESET),
    Operation(
        "send-local-list",
        "SendLocalList",
        _check_local_list,
        _local_list_sent,
        form=forms.SEND_LOCAL_LIST,
    ),
    Operation(
        "set-charging-profile",
        "SetChargingProfile",
        _check_evse,
        _profile_set,
        form=forms.SET_CHARGING_PROFILE,
    ),
    Operation(
        "set-display-message",
        "SetDisplayMessage",
        apply=_display_message_set,
        form=forms.SET_DISPLAY_MESSAGE,
    ),
    Operation("set-monitoring-base", "SetMonitoringBase"),
    Operation("set-monitoring-level", "SetMonitoringLevel"),
    Operation("set-network-profile", "SetNetworkProfile", admin_only=True),
    Operation("set-variable-monitoring", "SetVariableMonitoring", apply=_monitors_set),
    Operation(
        "set-variables",
        "SetVariables",
        _check_set_variables,
        _set_variables,
        form=forms.SET_VARIABLE,
        key_change=_PASSWORD,
    ),
    Operation("trigger-message", "TriggerMessage", _check_evse, form=forms.TRIGGER_MESSAGE),
    Operation("unlock-connector", "UnlockConnector", _check_evse, form=forms.UNLOCK_CONNECTOR),
    Operation("unpublish-firmware", "UnpublishFirmware"),
    Operation("update-firmware", "UpdateFirmware", _check_location, form=forms.UPDATE_FIRMWARE),
]
CATALOGUE: dict[str, Operation] = {entry.name: entry for entry in _ENTRIES}
BY_ACTION: dict[str, Operation] = {entry.action: entry for entry in _ENTRIES}


async def from_form(
    services: Services, charge_point_id: str, entry: Operation, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """The request of the portal form's fields."""
    if not isinstance(entry.form, RequestForm):
        raise NotFound(f"{entry.name} has no form")
    return await entry.form.build(services, charge_point_id, fields)


def new_remote_start_id() -> int:
    """RequestStartTransaction's remoteStartId: the charger echoes it in the Started event,
    which links the session to the request."""
    return forms.new_request_id()


def start_request(
    id_tag: str, evse_id: int | None = None, charging_profile: dict[str, Any] | None = None
) -> dict[str, Any]:
    """RequestStartTransaction (snake_case) for a tag: a Central id token, and a new
    remoteStartId the charger echoes in its Started event (which links the session to the
    request)."""
    start: dict[str, Any] = {
        "id_token": {"id_token": id_tag, "type": "Central"},
        "remote_start_id": new_remote_start_id(),
    }
    if evse_id is not None:
        start["evse_id"] = evse_id
    if charging_profile is not None:
        start["charging_profile"] = charging_profile
    return start
