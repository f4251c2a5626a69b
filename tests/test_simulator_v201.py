"""The OCPP 2.0.1 simulator against a minimal CSMS written here with the `ocpp` library's
v201 ChargePoint (the CSMS role), over a real aiohttp WebSocket, the station run by the
runner `python -m webapp simulate` uses."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

from simulator.common import SimulatorConfig
from simulator.v201 import REPORT_PART, SimulatedChargingStation
from tests.helpers import eventually
from webapp.simulate import run_charge_point
from webapp.ws_adapter import ConnectionClosed, WebSocketConnection

TAG = {"id_token": "TAG1", "type": "ISO14443"}
WAIT = 5.0  # seconds a test waits for what must come


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Received:
    connection: int  # 0 for the station's first connection, 1 for the next...
    action: str
    payload: dict[str, Any]


@dataclass
class Hub:
    """The CSMS: what every connection received, and how it answers."""

    url: str = ""
    boot_statuses: list[str] = field(default_factory=list)  # then Accepted
    interval: int = 1
    refused_tags: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    frames: list[list[Any]] = field(default_factory=list)  # raw, in order of arrival
    connections: list[Csms] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def of(self, action: str, **where: Any) -> list[dict[str, Any]]:
        return [
            r.payload
            for r in self.received
            if r.action == action and all(r.payload.get(k) == v for k, v in where.items())
        ]

    async def until(self, check: Callable[[], Any], timeout: float = WAIT) -> Any:
        """Wait until `check()` is truthy (looked at whenever a message arrives)."""
        async with asyncio.timeout(timeout):
            while not (result := check()):
                self.changed.clear()
                await self.changed.wait()
        return result

    @property
    def csms(self) -> Csms:
        return self.connections[-1]

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("ocpp2.0.1",))
        await ws.prepare(request)
        self.authorizations.append(request.headers.get("Authorization"))
        csms = Csms(
            request.match_info["station_id"], WebSocketConnection(ws), self, len(self.connections)
        )
        self.connections.append(csms)
        self.changed.set()
        try:
            await csms.start()
        except ConnectionClosed:
            pass
        return ws


class Csms(ChargePoint):
    def __init__(self, station_id: str, connection: Any, hub: Hub, number: int) -> None:
        super().__init__(station_id, connection, response_timeout=WAIT)
        self.hub = hub
        self.number = number

    async def route_message(self, raw_msg: str) -> None:
        self.hub.frames.append(json.loads(raw_msg))
        await super().route_message(raw_msg)

    def record(self, action: str, payload: dict[str, Any]) -> None:
        self.hub.received.append(Received(self.number, action, payload))
        self.hub.changed.set()

    @on("BootNotification")
    async def on_boot(self, **payload: Any) -> call_result.BootNotification:
        self.record("BootNotification", payload)
        status = self.hub.boot_statuses.pop(0) if self.hub.boot_statuses else "Accepted"
        return call_result.BootNotification(
            current_time=now(), interval=self.hub.interval, status=status
        )

    @on("Heartbeat")
    async def on_heartbeat(self, **payload: Any) -> call_result.Heartbeat:
        self.record("Heartbeat", payload)
        return call_result.Heartbeat(current_time=now())

    @on("StatusNotification")
    async def on_status(self, **payload: Any) -> call_result.StatusNotification:
        self.record("StatusNotification", payload)
        return call_result.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, **payload: Any) -> call_result.Authorize:
        self.record("Authorize", payload)
        refused = payload["id_token"]["id_token"] in self.hub.refused_tags
        return call_result.Authorize(id_token_info={"status": "Invalid" if refused else "Accepted"})

    @on("TransactionEvent")
    async def on_transaction_event(self, **payload: Any) -> call_result.TransactionEvent:
        self.record("TransactionEvent", payload)
        if "id_token" in payload:
            return call_result.TransactionEvent(id_token_info={"status": "Accepted"})
        return call_result.TransactionEvent()

    @on("MeterValues")
    async def on_meter_values(self, **payload: Any) -> call_result.MeterValues:
        self.record("MeterValues", payload)
        return call_result.MeterValues()

    @on("NotifyReport")
    async def on_notify_report(self, **payload: Any) -> call_result.NotifyReport:
        self.record("NotifyReport", payload)
        return call_result.NotifyReport()

    @on("NotifyEvent")
    async def on_notify_event(self, **payload: Any) -> call_result.NotifyEvent:
        self.record("NotifyEvent", payload)
        return call_result.NotifyEvent()

    @on("SignCertificate")
    async def on_sign_certificate(self, **payload: Any) -> call_result.SignCertificate:
        self.record("SignCertificate", payload)
        return call_result.SignCertificate(status="Accepted")

    @on("FirmwareStatusNotification")
    async def on_firmware_status(self, **payload: Any) -> Any:
        self.record("FirmwareStatusNotification", payload)
        return call_result.FirmwareStatusNotification()

    @on("LogStatusNotification")
    async def on_log_status(self, **payload: Any) -> Any:
        self.record("LogStatusNotification", payload)
        return call_result.LogStatusNotification()

    @on("NotifyMonitoringReport")
    async def on_notify_monitoring_report(self, **payload: Any) -> Any:
        self.record("NotifyMonitoringReport", payload)
        return call_result.NotifyMonitoringReport()

    @on("ReportChargingProfiles")
    async def on_report_charging_profiles(self, **payload: Any) -> Any:
        self.record("ReportChargingProfiles", payload)
        return call_result.ReportChargingProfiles()

    @on("NotifyDisplayMessages")
    async def on_notify_display_messages(self, **payload: Any) -> Any:
        self.record("NotifyDisplayMessages", payload)
        return call_result.NotifyDisplayMessages()

    @on("NotifyCustomerInformation")
    async def on_notify_customer_information(self, **payload: Any) -> Any:
        self.record("NotifyCustomerInformation", payload)
        return call_result.NotifyCustomerInformation()

    @on("ReservationStatusUpdate")
    async def on_reservation_status_update(self, **payload: Any) -> Any:
        self.record("ReservationStatusUpdate", payload)
        return call_result.ReservationStatusUpdate()

    @on("SecurityEventNotification")
    async def on_security_event(self, **payload: Any) -> Any:
        self.record("SecurityEventNotification", payload)
        return call_result.SecurityEventNotification()


@pytest.fixture
async def hub(aiohttp_server) -> Hub:
    hub = Hub()
    app = web.Application()
    app.router.add_get("/ocpp/{station_id}", hub.handler)
    server = await aiohttp_server(app)
    hub.url = str(server.make_url("/ocpp")).replace("http://", "ws://")
    return hub


@pytest.fixture
async def start(hub: Hub) -> AsyncIterator[Callable[..., None]]:
    """Start station CS1, as `python -m webapp simulate --ocpp 2.0.1` runs it."""
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession() as http:

        def _start(config: SimulatorConfig | None = None, password: str | None = None) -> None:
            config = config or SimulatorConfig(connectors=2, meter_interval=1)
            run = run_charge_point(http, hub.url, "CS1", config, password, ocpp="2.0.1")
            tasks.append(asyncio.create_task(run))

        yield _start
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def booted(hub: Hub, connection: int = 0) -> None:
    """Until the station's boot on that connection was accepted and both EVSEs reported."""

    def reported() -> bool:
        on_it = [r for r in hub.received if r.connection == connection]
        return len([r for r in on_it if r.action == "StatusNotification"]) >= 2

    await hub.until(reported)


def variable(component: str, name: str, **more: Any) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": name}, **more}


async def test_boot_waits_out_pending_then_reports_and_heartbeats(hub: Hub, start) -> None:
    hub.boot_statuses = ["Pending"]
    start()
    await booted(hub)
    boots = hub.of("BootNotification")
    assert [b["reason"] for b in boots] == ["PowerUp", "PowerUp"]
    assert boots[0]["charging_station"] == {
        "model": "Simulator",
        "vendor_name": "Voltaro",
        "serial_number": "CS1-SN",
        "firmware_version": "1.0.0",
    }
    statuses = hub.of("StatusNotification")
    assert [(s["evse_id"], s["connector_id"], s["connector_status"]) for s in statuses] == [
        (1, 1, "Available"),
        (2, 1, "Available"),
    ]
    await hub.until(lambda: hub.of("Heartbeat"), timeout=3)
    # The interval the CSMS gave is the one in its device model.
    answer = await hub.csms.call(
        call.GetVariables(get_variable_data=[variable("OCPPCommCtrlr", "HeartbeatInterval")])
    )
    assert answer.get_variable_result[0]["attribute_value"] == "1"


async def test_remote_start_and_stop_run_a_transaction(hub: Hub, start) -> None:
    start()
    await booted(hub)
    answer = await hub.csms.call(
        call.RequestStartTransaction(id_token=TAG, remote_start_id=7, evse_id=1)
    )
    assert answer.status == "Accepted"
    # The EVSE is taken: a second start there is refused.
    again = await hub.csms.call(
        call.RequestStartTransaction(id_token=TAG, remote_start_id=8, evse_id=1)
    )
    assert again.status == "Rejected"
    await hub.until(lambda: hub.of("TransactionEvent", trigger_reason="MeterValuePeriodic"))
    started = hub.of("TransactionEvent")[0]
    assert started["event_type"] == "Started"
    assert started["trigger_reason"] == "RemoteStart"
    assert started["transaction_info"]["remote_start_id"] == 7
    assert started["evse"] == {"id": 1, "connector_id": 1}
    assert started["id_token"] == TAG
    transaction_id = started["transaction_info"]["transaction_id"]
    assert len(transaction_id) == 36  # a UUID
    assert started["meter_value"][0]["sampled_value"][0]["context"] == "Transaction.Begin"

    status = await hub.csms.call(call.GetTransactionStatus(transaction_id=transaction_id))
    assert status.ongoing_indicator is True
    wrong = await hub.csms.call(call.RequestStopTransaction(transaction_id="no-such-tx"))
    assert wrong.status == "Rejected"
    stop = await hub.csms.call(call.RequestStopTransaction(transaction_id=transaction_id))
    assert stop.status == "Accepted"
    await hub.until(lambda: hub.of("TransactionEvent", event_type="Ended"))

    events = hub.of("TransactionEvent")
    assert [e["seq_no"] for e in events] == list(range(len(events)))
    assert {e["transaction_info"]["transaction_id"] for e in events} == {transaction_id}
    assert events[1]["trigger_reason"] == "ChargingStateChanged"
    assert events[1]["transaction_info"]["charging_state"] == "Charging"
    assert "evse" not in events[1] and "id_token" not in events[1]
    periodic = hub.of("TransactionEvent", trigger_reason="MeterValuePeriodic")[0]
    measured = {v["measurand"]: v for v in periodic["meter_value"][0]["sampled_value"]}
    assert measured["Energy.Active.Import.Register"]["context"] == "Sample.Periodic"
    assert measured["Energy.Active.Import.Register"]["unit_of_measure"] == {"unit": "Wh"}
    assert measured["Power.Active.Import"]["value"] == 11000
    ended = events[-1]
    assert ended["trigger_reason"] == "RemoteStop"
    assert ended["transaction_info"]["stopped_reason"] == "Remote"
    assert ended["meter_value"][0]["sampled_value"][0]["context"] == "Transaction.End"
    energy = [
        v["value"]
        for e in events
        for mv in e.get("meter_value", [])
        for v in mv["sampled_value"]
        if v["measurand"] == "Energy.Active.Import.Register"
    ]
    assert energy == sorted(energy) and energy[-1] > energy[0]

    # The EV was plugged in for it, and left after.
    await hub.until(lambda: len(hub.of("StatusNotification", evse_id=1)) >= 3)
    assert [s["connector_status"] for s in hub.of("StatusNotification", evse_id=1)] == [
        "Available",
        "Occupied",
        "Available",
    ]
    status = await hub.csms.call(call.GetTransactionStatus(transaction_id=transaction_id))
    assert status.ongoing_indicator is False and status.messages_in_queue is False


async def test_get_base_report_comes_in_parts(hub: Hub, start) -> None:
    start()
    await booted(hub)
    answer = await hub.csms.call(call.GetBaseReport(request_id=3, report_base="FullInventory"))
    assert answer.status == "Accepted"
    await hub.until(lambda: hub.of("NotifyReport", tbc=False))
    parts = hub.of("NotifyReport")
    assert len(parts) > 2
    assert [p["seq_no"] for p in parts] == list(range(len(parts)))
    assert [p["tbc"] for p in parts] == [True] * (len(parts) - 1) + [False]
    assert {p["request_id"] for p in parts} == {3}
    assert len({p["generated_at"] for p in parts}) == 1
    assert all(1 <= len(p["report_data"]) <= REPORT_PART for p in parts)
    reported = {
        (d["component"]["name"], d["component"].get("evse", {}).get("id"), d["variable"]["name"]): d
        for p in parts
        for d in p["report_data"]
    }
    heartbeat = reported[("OCPPCommCtrlr", None, "HeartbeatInterval")]
    assert heartbeat["variable_attribute"] == [
        {"type": "Actual", "value": "1", "mutability": "ReadWrite"}
    ]
    assert heartbeat["variable_characteristics"]["data_type"] == "integer"
    assert heartbeat["variable_characteristics"]["supports_monitoring"] is True
    password = reported[("SecurityCtrlr", None, "BasicAuthPassword")]
    assert password["variable_attribute"] == [{"type": "Actual", "mutability": "WriteOnly"}]
    assert reported[("EVSE", 2, "AvailabilityState")]["variable_attribute"][0]["value"] == (
        "Available"
    )

    # A configuration inventory is what can be set; a report of one component, its own.
    await hub.csms.call(call.GetBaseReport(request_id=4, report_base="ConfigurationInventory"))
    await hub.until(lambda: hub.of("NotifyReport", request_id=4, tbc=False))
    configurable = [d for p in hub.of("NotifyReport", request_id=4) for d in p["report_data"]]
    assert {d["variable_attribute"][0]["mutability"] for d in configurable} <= {
        "ReadWrite",
        "WriteOnly",
    }
    answer = await hub.csms.call(
        call.GetReport(request_id=5, component_variable=[{"component": {"name": "TxCtrlr"}}])
    )
    assert answer.status == "Accepted"
    await hub.until(lambda: hub.of("NotifyReport", request_id=5, tbc=False))
    names = {
        d["variable"]["name"]
        for p in hub.of("NotifyReport", request_id=5)
        for d in p["report_data"]
    }
    assert {"EVConnectionTimeOut", "TxStopPoint"} <= names
    empty = await hub.csms.call(
        call.GetReport(request_id=6, component_variable=[{"component": {"name": "NoSuchCtrlr"}}])
    )
    assert empty.status == "EmptyResultSet"


async def test_set_variables_answers_each_variable(hub: Hub, start) -> None:
    start()
    await booted(hub)
    answer = await hub.csms.call(
        call.SetVariables(
            set_variable_data=[
                variable("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="2"),
                variable("ChargingStation", "Model", attribute_value="Other"),
                variable("NoSuchCtrlr", "Enabled", attribute_value="true"),
                variable("OCPPCommCtrlr", "NoSuchVariable", attribute_value="1"),
                variable(
                    "OCPPCommCtrlr",
                    "HeartbeatInterval",
                    attribute_value="3",
                    attribute_type="Target",
                ),
                variable("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="often"),
                variable("OCPPCommCtrlr", "NetworkConfigurationPriority", attribute_value="2,1"),
                variable("SecurityCtrlr", "SecurityProfile", attribute_value="3"),
            ]
        )
    )
    assert [r["attribute_status"] for r in answer.set_variable_result] == [
        "Accepted",
        "Rejected",
        "UnknownComponent",
        "UnknownVariable",
        "NotSupportedAttributeType",
        "Rejected",
        "RebootRequired",
        "Rejected",
    ]
    assert answer.set_variable_result[1]["attribute_status_info"]["reason_code"] == "ReadOnly"
    got = await hub.csms.call(
        call.GetVariables(
            get_variable_data=[
                variable("OCPPCommCtrlr", "HeartbeatInterval"),
                variable("SecurityCtrlr", "BasicAuthPassword"),
                {"component": {"name": "EVSE", "evse": {"id": 2}}, "variable": {"name": "Power"}},
            ]
        )
    )
    results = got.get_variable_result
    assert (results[0]["attribute_status"], results[0]["attribute_value"]) == ("Accepted", "2")
    assert results[1]["attribute_status"] == "Rejected"  # write-only
    assert (results[2]["attribute_status"], results[2]["attribute_value"]) == ("Accepted", "0")


async def test_reset_reboots_with_the_password_it_was_given(hub: Hub, start) -> None:
    start()
    await booted(hub)
    assert hub.authorizations == [None]
    new_password = "a-password-of-the-csms"
    answer = await hub.csms.call(
        call.SetVariables(
            set_variable_data=[
                variable("SecurityCtrlr", "BasicAuthPassword", attribute_value=new_password)
            ]
        )
    )
    assert answer.set_variable_result[0]["attribute_status"] == "Accepted"
    await hub.csms.call(call.RequestStartTransaction(id_token=TAG, remote_start_id=1, evse_id=2))
    await hub.until(lambda: hub.of("TransactionEvent", event_type="Started"))

    reset = await hub.csms.call(call.Reset(type="Immediate"))
    assert reset.status == "Accepted"
    await booted(hub, connection=1)
    ended = hub.of("TransactionEvent", event_type="Ended")[0]
    assert ended["trigger_reason"] == "ResetCommand"
    assert ended["transaction_info"]["stopped_reason"] == "ImmediateReset"
    assert [b["reason"] for b in hub.of("BootNotification")] == ["PowerUp", "RemoteReset"]
    assert hub.authorizations[1] == aiohttp.encode_basic_auth("CS1", new_password)
    # What the CSMS set lasts across the reboot.
    got = await hub.csms.call(
        call.GetVariables(get_variable_data=[variable("OCPPCommCtrlr", "HeartbeatInterval")])
    )
    assert got.get_variable_result[0]["attribute_value"] == "1"


async def test_trigger_message_answers_then_sends(hub: Hub, start) -> None:
    start()
    await booted(hub)

    async def trigger(message: str, **more: Any) -> str:
        return (await hub.csms.call(call.TriggerMessage(requested_message=message, **more))).status

    heartbeats = len(hub.of("Heartbeat"))
    assert await trigger("Heartbeat") == "Accepted"
    await hub.until(lambda: len(hub.of("Heartbeat")) > heartbeats)
    answer_at = next(
        i for i, f in enumerate(hub.frames) if f[0] == 3 and f[2] == {"status": "Accepted"}
    )
    assert any(f[0] == 2 and f[2] == "Heartbeat" for f in hub.frames[answer_at:])

    assert await trigger("StatusNotification", evse={"id": 2}) == "Accepted"
    await hub.until(lambda: len(hub.of("StatusNotification", evse_id=2)) == 2)
    assert len(hub.of("StatusNotification", evse_id=1)) == 1

    assert await trigger("MeterValues", evse={"id": 1}) == "Accepted"
    await hub.until(lambda: hub.of("MeterValues"))
    values = hub.of("MeterValues")[0]
    assert values["evse_id"] == 1
    assert {v["context"] for v in values["meter_value"][0]["sampled_value"]} == {"Trigger"}

    assert await trigger("SignChargingStationCertificate") == "Accepted"
    await hub.until(lambda: hub.of("SignCertificate"))
    assert "BEGIN CERTIFICATE REQUEST" in hub.of("SignCertificate")[0]["csr"]

    assert await trigger("BootNotification") == "Rejected"  # accepted already
    assert await trigger("TransactionEvent") == "Rejected"  # none is on
    assert await trigger("Heartbeat", evse={"id": 9}) == "Rejected"
    assert await trigger("PublishFirmwareStatusNotification") == "NotImplemented"


async def test_local_sessions_authorize_first(hub: Hub, start, caplog) -> None:
    caplog.set_level(logging.WARNING, "simulator.v201")
    hub.refused_tags = {"GONE"}
    config = SimulatorConfig(
        connectors=1, meter_interval=1, session_every=0.2, session_length=0.2, id_tag="GONE"
    )
    start(config)
    await hub.until(lambda: hub.of("Authorize"))
    # Its warning is written once it has taken the refusal (and started nothing).
    await eventually(
        lambda: "id tag GONE is unknown to the central system (Invalid)" in caplog.text,
        what="the simulator's warning of the refused tag",
    )
    assert not hub.of("TransactionEvent")
    assert "python -m webapp id-tag add GONE" in caplog.text


async def test_local_session_runs_after_authorize(hub: Hub, start) -> None:
    config = SimulatorConfig(
        connectors=1, meter_interval=1, session_every=0.2, session_length=0.2, id_tag="SIMTAG1"
    )
    start(config)
    await hub.until(lambda: hub.of("TransactionEvent", event_type="Ended"))
    actions = [r.action for r in hub.received]
    assert actions.index("Authorize") < actions.index("TransactionEvent")
    events = [e for e in hub.of("TransactionEvent")]
    started, ended = events[0], next(e for e in events if e["event_type"] == "Ended")
    assert started["trigger_reason"] == "Authorized"
    assert started["id_token"] == {"id_token": "SIMTAG1", "type": "ISO14443"}
    assert (ended["trigger_reason"], ended["transaction_info"]["stopped_reason"]) in {
        ("StopAuthorized", "Local"),
        ("EVDeparted", "EVDisconnected"),
    }


async def test_a_station_plays_the_same_way_twice() -> None:
    def play() -> tuple[dict[int, float], str]:
        station = SimulatedChargingStation("CS7", None, SimulatorConfig())
        return station.meters, station._new_transaction_id()

    assert play() == play()


def fast() -> SimulatorConfig:
    return SimulatorConfig(connectors=2, meter_interval=1, notification_delay=0.01)


def in_seconds(seconds: float) -> str:
    return datetime.fromtimestamp(datetime.now(UTC).timestamp() + seconds, UTC).isoformat()


async def test_smart_charging_limits_the_power(hub: Hub, start) -> None:
    start(fast())
    await booted(hub)
    csms = hub.csms

    def profile(profile_id: int, purpose: str, limit: float, unit: str = "W") -> dict[str, Any]:
        return {
            "id": profile_id,
            "stack_level": 0,
            "charging_profile_purpose": purpose,
            "charging_profile_kind": "Absolute",
            "charging_schedule": [
                {
                    "id": profile_id,
                    "charging_rate_unit": unit,
                    "charging_schedule_period": [{"start_period": 0, "limit": limit}],
                }
            ],
        }

    set_default = await csms.call(
        call.SetChargingProfile(evse_id=1, charging_profile=profile(1, "TxDefaultProfile", 10, "A"))
    )
    assert set_default.status == "Accepted"
    duplicate = await csms.call(
        call.SetChargingProfile(evse_id=1, charging_profile=profile(2, "TxDefaultProfile", 10, "A"))
    )
    assert (duplicate.status, duplicate.status_info["reason_code"]) == (
        "Rejected",
        "DuplicateProfile",
    )
    no_tx = await csms.call(
        call.SetChargingProfile(evse_id=1, charging_profile=profile(3, "TxProfile", 5000))
    )
    assert (no_tx.status, no_tx.status_info["reason_code"]) == ("Rejected", "TxNotFound")
    unknown = await csms.call(
        call.SetChargingProfile(evse_id=7, charging_profile=profile(4, "TxDefaultProfile", 1))
    )
    assert unknown.status == "Rejected"

    composite = await csms.call(call.GetCompositeSchedule(duration=600, evse_id=1))
    assert composite.status == "Accepted"
    period = composite.schedule["charging_schedule_period"][0]
    assert period["limit"] == 10 * 230 * 3  # 10 A on three phases, in W

    await csms.call(call.RequestStartTransaction(id_token=TAG, remote_start_id=2, evse_id=1))
    await hub.until(lambda: hub.of("TransactionEvent", trigger_reason="MeterValuePeriodic"))
    periodic = hub.of("TransactionEvent", trigger_reason="MeterValuePeriodic")[0]
    power = next(
        v["value"]
        for v in periodic["meter_value"][0]["sampled_value"]
        if v["measurand"] == "Power.Active.Import"
    )
    assert power == 6900  # not its 11 kW: the default profile's limit

    got = await csms.call(call.GetChargingProfiles(request_id=9, charging_profile={}))
    assert got.status == "Accepted"
    await hub.until(lambda: hub.of("ReportChargingProfiles"))
    report = hub.of("ReportChargingProfiles")[0]
    assert (report["request_id"], report["evse_id"], report["charging_limit_source"]) == (
        9,
        1,
        "CSO",
    )
    assert [p["id"] for p in report["charging_profile"]] == [1]
    cleared = await csms.call(call.ClearChargingProfile(charging_profile_id=1))
    assert cleared.status == "Accepted"
    again = await csms.call(call.ClearChargingProfile(charging_profile_id=1))
    assert again.status == "Unknown"
    none = await csms.call(call.GetChargingProfiles(request_id=10, charging_profile={}))
    assert none.status == "NoProfiles"


async def test_reservations_hold_an_evse_until_they_expire(hub: Hub, start) -> None:
    start(fast())
    await booted(hub)
    csms = hub.csms
    reserved = await csms.call(
        call.ReserveNow(id=5, expiry_date_time=in_seconds(0.5), id_token=TAG, evse_id=2)
    )
    assert reserved.status == "Accepted"
    await hub.until(lambda: hub.of("StatusNotification", evse_id=2, connector_status="Reserved"))
    other = {"id_token": "OTHER", "type": "ISO14443"}
    refused = await csms.call(
        call.RequestStartTransaction(id_token=other, remote_start_id=3, evse_id=2)
    )
    assert refused.status == "Rejected"
    taken = await csms.call(
        call.ReserveNow(id=6, expiry_date_time=in_seconds(60), id_token=other, evse_id=2)
    )
    assert taken.status == "Occupied"
    await hub.until(lambda: hub.of("ReservationStatusUpdate"))
    assert hub.of("ReservationStatusUpdate") == [
        {"reservation_id": 5, "reservation_update_status": "Expired"}
    ]
    await hub.until(
        lambda: hub.of("StatusNotification", evse_id=2)[-1]["connector_status"] == "Available"
    )
    cancelled = await csms.call(call.CancelReservation(reservation_id=5))
    assert cancelled.status == "Rejected"  # it is gone

    # A reservation is used by the transaction of its driver.
    await csms.call(call.ReserveNow(id=7, expiry_date_time=in_seconds(60), id_token=TAG, evse_id=1))
    started = await csms.call(call.RequestStartTransaction(id_token=TAG, remote_start_id=4))
    assert started.status == "Accepted"
    await hub.until(lambda: hub.of("TransactionEvent", event_type="Started"))
    event = hub.of("TransactionEvent", event_type="Started")[0]
    assert (event["evse"]["id"], event["reservation_id"]) == (1, 7)


async def test_firmware_update_reboots_into_the_new_firmware(hub: Hub, start) -> None:
    start(fast())
    await booted(hub)
    answer = await hub.csms.call(
        call.UpdateFirmware(
            request_id=11,
            firmware={
                "location": "https://firmware.example/cs/2.0.0",
                "retrieve_date_time": now(),
            },
        )
    )
    assert answer.status == "Accepted"
    await hub.until(lambda: hub.of("FirmwareStatusNotification", status="Installed"))
    steps = hub.of("FirmwareStatusNotification")
    assert [s["status"] for s in steps] == [
        "Downloading",
        "Downloaded",
        "Installing",
        "InstallRebooting",
        "Installed",
    ]
    assert {s["request_id"] for s in steps} == {11}
    boots = hub.of("BootNotification")
    assert [b["reason"] for b in boots] == ["PowerUp", "FirmwareUpdate"]
    assert boots[-1]["charging_station"]["firmware_version"] == "2.0.0"

    log = await hub.csms.call(
        call.GetLog(
            log={"remote_location": "https://logs.example/up"},
            log_type="DiagnosticsLog",
            request_id=12,
        )
    )
    assert log.status == "Accepted" and log.filename
    await hub.until(lambda: hub.of("LogStatusNotification", status="Uploaded"))
    assert [s["status"] for s in hub.of("LogStatusNotification")] == ["Uploading", "Uploaded"]
    assert {s["request_id"] for s in hub.of("LogStatusNotification")} == {12}


async def test_monitoring_reports_and_events(hub: Hub, start) -> None:
    start(fast())
    await booted(hub)
    csms = hub.csms
    power = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}
    answer = await csms.call(
        call.SetVariableMonitoring(
            set_monitoring_data=[
                {"value": 1000, "type": "UpperThreshold", "severity": 4, **power},
                {"value": 1, "type": "Periodic", "severity": 4, **power},
                {"value": 1, "type": "UpperThreshold", "severity": 4, **variable("Nope", "X")},
                {
                    "value": 1,
                    "type": "UpperThreshold",
                    "severity": 4,
                    **variable("ChargingStation", "Model"),
                },
            ]
        )
    )
    statuses = [r["status"] for r in answer.set_monitoring_result]
    assert statuses == [
        "Accepted",
        "UnsupportedMonitorType",
        "UnknownComponent",
        "UnsupportedMonitorType",
    ]
    monitor_id = answer.set_monitoring_result[0]["id"]

    # Charging crosses the threshold: an event.
    await csms.call(call.RequestStartTransaction(id_token=TAG, remote_start_id=1, evse_id=1))
    await hub.until(lambda: hub.of("NotifyEvent"))
    event = hub.of("NotifyEvent")[0]["event_data"][0]
    assert (event["trigger"], event["actual_value"], event["variable_monitoring_id"]) == (
        "Alerting",
        "11000",
        monitor_id,
    )

    report = await csms.call(call.GetMonitoringReport(request_id=21))
    assert report.status == "Accepted"
    await hub.until(lambda: hub.of("NotifyMonitoringReport"))
    monitored = hub.of("NotifyMonitoringReport")[0]["monitor"]
    ids = {m["id"] for entry in monitored for m in entry["variable_monitoring"]}
    assert monitor_id in ids and 1 in ids  # its own, and the hard-wired one
    cleared = await csms.call(call.ClearVariableMonitoring(id=[monitor_id, 1, 999]))
    assert [r["status"] for r in cleared.clear_monitoring_result] == [
        "Accepted",
        "Rejected",
        "NotFound",
    ]
    assert (await csms.call(call.SetMonitoringLevel(severity=3))).status == "Accepted"
    assert (await csms.call(call.SetMonitoringLevel(severity=12))).status == "Rejected"
    base = await csms.call(call.SetMonitoringBase(monitoring_base="HardWiredOnly"))
    assert base.status == "Accepted"
    only = await csms.call(
        call.GetMonitoringReport(request_id=22, monitoring_criteria=["ThresholdMonitoring"])
    )
    assert only.status == "EmptyResultSet"


async def test_the_other_requests_get_real_answers(hub: Hub, start) -> None:
    start(fast())
    await booted(hub)
    csms = hub.csms

    async def status(request: Any) -> str:
        return (await csms.call(request)).status

    # Local authorisation list.
    entry = {"id_token": TAG, "id_token_info": {"status": "Accepted"}}
    assert (
        await status(
            call.SendLocalList(
                version_number=2, update_type="Full", local_authorization_list=[entry]
            )
        )
        == "Accepted"
    )
    assert (
        await status(call.SendLocalList(version_number=1, update_type="Differential"))
        == "VersionMismatch"
    )
    assert (await csms.call(call.GetLocalListVersion())).version_number == 2
    assert await status(call.ClearCache()) == "Accepted"

    # Display messages.
    message = {
        "id": 1,
        "priority": "NormalCycle",
        "message": {"format": "UTF8", "content": "Hello TAG1"},
    }
    assert await status(call.SetDisplayMessage(message=message)) == "Accepted"
    html = {**message, "id": 2, "message": {"format": "HTML", "content": "<b>x</b>"}}
    assert await status(call.SetDisplayMessage(message=html)) == "NotSupportedMessageFormat"
    unknown_tx = {**message, "id": 3, "transaction_id": "none"}
    assert await status(call.SetDisplayMessage(message=unknown_tx)) == "UnknownTransaction"
    assert await status(call.GetDisplayMessages(request_id=31)) == "Accepted"
    await hub.until(lambda: hub.of("NotifyDisplayMessages"))
    assert [m["id"] for m in hub.of("NotifyDisplayMessages")[0]["message_info"]] == [1]
    assert await status(call.ClearDisplayMessage(id=1)) == "Accepted"
    assert await status(call.ClearDisplayMessage(id=1)) == "Unknown"

    # Customer information: what it holds of the driver.
    assert (
        await status(call.CustomerInformation(request_id=41, report=True, clear=False)) == "Invalid"
    )
    assert (
        await status(
            call.CustomerInformation(request_id=42, report=True, clear=False, id_token=TAG)
        )
        == "Accepted"
    )
    await hub.until(lambda: hub.of("NotifyCustomerInformation"))
    assert "local list: Accepted" in hub.of("NotifyCustomerInformation")[0]["data"]

    # Availability and connectors.
    assert (
        await status(call.ChangeAvailability(operational_status="Inoperative", evse={"id": 2}))
        == "Accepted"
    )
    await hub.until(
        lambda: hub.of("StatusNotification", evse_id=2)[-1]["connector_status"] == "Unavailable"
    )
    refused = await csms.call(
        call.RequestStartTransaction(id_token=TAG, remote_start_id=5, evse_id=2)
    )
    assert refused.status == "Rejected"
    assert (
        await status(call.ChangeAvailability(operational_status="Operative", evse={"id": 2}))
        == "Accepted"
    )
    assert (
        await status(call.ChangeAvailability(operational_status="Operative", evse={"id": 5}))
        == "Rejected"
    )
    assert await status(call.UnlockConnector(evse_id=1, connector_id=1)) == "Unlocked"
    assert await status(call.UnlockConnector(evse_id=4, connector_id=1)) == "UnknownConnector"

    # Certificates: a root it can check chains against, listed and deleted.
    root = self_signed_root()
    assert (
        await status(
            call.InstallCertificate(certificate_type="CSMSRootCertificate", certificate=root)
        )
        == "Accepted"
    )
    assert (
        await status(
            call.InstallCertificate(certificate_type="CSMSRootCertificate", certificate="junk")
        )
        == "Rejected"
    )
    ids = await csms.call(call.GetInstalledCertificateIds(certificate_type=["CSMSRootCertificate"]))
    assert ids.status == "Accepted"
    hash_data = ids.certificate_hash_data_chain[0]["certificate_hash_data"]
    assert await status(call.DeleteCertificate(certificate_hash_data=hash_data)) == "Accepted"
    assert await status(call.DeleteCertificate(certificate_hash_data=hash_data)) == "NotFound"
    assert await status(call.GetInstalledCertificateIds()) == "NotFound"
    assert await status(call.CertificateSigned(certificate_chain="junk")) == "Rejected"

    # The rest.
    assert await status(call.DataTransfer(vendor_id="Elsewhere")) == "UnknownVendorId"
    assert (
        await csms.call(call.DataTransfer(vendor_id="Voltaro", message_id="echo", data="x"))
    ).data == "x"
    profile = {
        "ocpp_version": "OCPP20",
        "ocpp_transport": "JSON",
        "ocpp_csms_url": "wss://csms.example/ocpp",
        "message_timeout": 30,
        "security_profile": 2,
        "ocpp_interface": "Wired0",
    }
    assert (
        await status(call.SetNetworkProfile(configuration_slot=2, connection_data=profile))
        == "Accepted"
    )
    assert (
        await status(call.SetNetworkProfile(configuration_slot=9, connection_data=profile))
        == "Rejected"
    )
    assert (
        await status(call.PublishFirmware(location="x", checksum="0" * 32, request_id=1))
        == "Rejected"
    )
    assert await status(call.UnpublishFirmware(checksum="0" * 32)) == "NoFirmware"
    assert await status(call.Reset(type="Immediate", evse_id=9)) == "Rejected"
    await csms.call(call.CostUpdated(total_cost=1.5, transaction_id="none"))


def self_signed_root() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CSMS root")])
    moment = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment)
        .not_valid_after(datetime.fromtimestamp(moment.timestamp() + 86400, UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
