"""The OCPP 2.0.1 device model of the simulated charging station, held in memory.

Components (controllers like OCPPCommCtrlr, physical ones like EVSE and Connector) and
their variables, as GetVariables / SetVariables, GetBaseReport / GetReport and the
monitoring messages see them, with the statuses a real station gives: Rejected for a
read-only variable or a value it cannot take, UnknownComponent, UnknownVariable,
NotSupportedAttributeType, RebootRequired. Payload pieces are dicts in the `ocpp`
library's snake_case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocpp.v201.enums import (
    ClearMonitoringStatusEnumType as ClearMonitoringStatus,
)
from ocpp.v201.enums import (
    GetVariableStatusEnumType as GetVariableStatus,
)
from ocpp.v201.enums import (
    SetMonitoringStatusEnumType as SetMonitoringStatus,
)
from ocpp.v201.enums import (
    SetVariableStatusEnumType as SetVariableStatus,
)

RO, RW, WO = "ReadOnly", "ReadWrite", "WriteOnly"
ACTUAL = "Actual"
NUMERIC = ("integer", "decimal")
# What the station measures (and so may put in meter values).
MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"
# What an EVSE's or connector's AvailabilityState may be.
STATES = "Available,Occupied,Reserved,Unavailable,Faulted"
# Monitoring severities: 0 (Danger) to 9 (Debug).
MAX_SEVERITY = 9


@dataclass
class Variable:
    component: str
    name: str
    value: str | None  # the Actual attribute
    mutability: str = RO
    data_type: str = "string"
    component_instance: str | None = None
    instance: str | None = None
    evse: int | None = None
    connector: int | None = None
    unit: str | None = None
    values_list: str | None = None
    # Numbers: the range; strings: the length.
    min_limit: float | None = None
    max_limit: float | None = None
    # A new value takes effect only after a reboot.
    reboot_required: bool = False
    supports_monitoring: bool = True

    @property
    def component_key(self) -> tuple[str, str | None, int | None, int | None]:
        return (self.component, self.component_instance, self.evse, self.connector)

    def component_dict(self) -> dict[str, Any]:
        component: dict[str, Any] = {"name": self.component}
        if self.component_instance is not None:
            component["instance"] = self.component_instance
        if self.evse is not None:
            component["evse"] = {"id": self.evse}
            if self.connector is not None:
                component["evse"]["connector_id"] = self.connector
        return component

    def variable_dict(self) -> dict[str, Any]:
        variable: dict[str, Any] = {"name": self.name}
        if self.instance is not None:
            variable["instance"] = self.instance
        return variable

    def report_data(self) -> dict[str, Any]:
        """Its ReportDataType, for NotifyReport; a write-only value is never reported."""
        characteristics: dict[str, Any] = {
            "data_type": self.data_type,
            "supports_monitoring": self.supports_monitoring,
        }
        for key in ("unit", "min_limit", "max_limit", "values_list"):
            if getattr(self, key) is not None:
                characteristics[key] = getattr(self, key)
        attribute: dict[str, Any] = {"type": ACTUAL, "mutability": self.mutability}
        if self.mutability != WO and self.value is not None:
            attribute["value"] = self.value
        return {
            "component": self.component_dict(),
            "variable": self.variable_dict(),
            "variable_attribute": [attribute],
            "variable_characteristics": characteristics,
        }

    def problem_with(self, value: str) -> str | None:
        """Why `value` cannot be set (a StatusInfo reasonCode), or None."""
        if self.data_type in NUMERIC:
            try:
                number = int(value) if self.data_type == "integer" else float(value)
            except ValueError:
                return "InvalidValue"
            if not math.isfinite(number):
                return "InvalidValue"
            if self.min_limit is not None and number < self.min_limit:
                return "ValueTooLow"
            if self.max_limit is not None and number > self.max_limit:
                return "ValueTooHigh"
            return None
        if self.data_type == "boolean":
            return None if value in ("true", "false") else "InvalidValue"
        if self.data_type == "dateTime":
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return "InvalidValue"
            return None
        allowed = self.values_list.split(",") if self.values_list else []
        if self.data_type == "OptionList":
            return None if value in allowed else "InvalidValue"
        if self.data_type in ("MemberList", "SequenceList"):
            members = value.split(",")
            if not value or any(m not in allowed for m in members):
                return "InvalidValue"
            return None if len(set(members)) == len(members) else "InvalidValue"
        # string: the limits are on its length.
        if self.min_limit is not None and len(value) < self.min_limit:
            return "ValueTooLow"
        if self.max_limit is not None and len(value) > self.max_limit:
            return "ValueTooHigh"
        return None


@dataclass
class Monitor:
    id: int
    variable: Variable
    type: str  # UpperThreshold, LowerThreshold, Delta
    value: float
    severity: int
    transaction: bool = False
    kind: str = "CustomMonitor"  # or HardWiredMonitor, PreconfiguredMonitor
    # Delta: the value last reported; thresholds: whether the limit is exceeded now.
    reference: str | None = None
    alerting: bool = False

    def monitoring(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "transaction": self.transaction,
            "value": self.value,
            "type": self.type,
            "severity": self.severity,
        }


def _status_info(reason: str) -> dict[str, str]:
    return {"reason_code": reason}


def _same_component(variable: Variable, component: dict[str, Any], wildcard: bool) -> bool:
    """Whether a request's ComponentType names the variable's component. For a report
    (`wildcard`) an omitted instance or EVSE stands for any, otherwise for none."""
    evse = component.get("evse") or {}
    wanted = (
        component.get("instance"),
        evse.get("id"),
        evse.get("connector_id"),
    )
    held = (variable.component_instance, variable.evse, variable.connector)
    if variable.component != component.get("name"):
        return False
    if wildcard:
        return all(w is None or w == h for w, h in zip(wanted, held, strict=True))
    return wanted == held


def _same_variable(variable: Variable, wanted: dict[str, Any], wildcard: bool) -> bool:
    if variable.name != wanted.get("name"):
        return False
    instance = wanted.get("instance")
    return (wildcard and instance is None) or instance == variable.instance


class DeviceModel:
    def __init__(self, variables: list[Variable]) -> None:
        self.variables = variables
        self.monitors: dict[int, Monitor] = {}
        self._next_monitor_id = 1
        # The factory's monitors, restored by SetMonitoringBase FactoryDefault / All.
        self._preconfigured: list[Monitor] = []

    # --- looking variables up ---------------------------------------------------------

    def find(
        self, component: dict[str, Any], variable: dict[str, Any]
    ) -> Variable | GetVariableStatus:
        """The variable a GetVariables / SetVariables item names, or why there is none."""
        in_component = [v for v in self.variables if _same_component(v, component, False)]
        if not in_component:
            return GetVariableStatus.unknown_component
        for held in in_component:
            if _same_variable(held, variable, False):
                return held
        return GetVariableStatus.unknown_variable

    def variable(
        self,
        component: str,
        name: str,
        *,
        evse: int | None = None,
        connector: int | None = None,
        instance: str | None = None,
    ) -> Variable:
        """The station's own look-up of a variable it knows it has."""
        for held in self.variables:
            if (
                held.component == component
                and held.name == name
                and held.evse == evse
                and held.connector == connector
                and held.instance == instance
            ):
                return held
        raise KeyError(f"{component}.{name}")

    def value(self, component: str, name: str, **where: Any) -> str:
        return self.variable(component, name, **where).value or ""

    def update(self, component: str, name: str, value: str, **where: Any) -> list[dict[str, Any]]:
        """The station changed a value itself (a status, its power): set it, whatever its
        mutability, and return the NotifyEvent eventData its monitors raise."""
        held = self.variable(component, name, **where)
        held.value = value
        return self.events_for(held)

    # --- GetVariables / SetVariables ----------------------------------------------------

    def get(self, data: dict[str, Any]) -> dict[str, Any]:
        """A GetVariableResultType for a GetVariableDataType."""
        result: dict[str, Any] = {
            "component": data["component"],
            "variable": data["variable"],
        }
        if data.get("attribute_type") is not None:
            result["attribute_type"] = data["attribute_type"]
        found = self.find(data["component"], data["variable"])
        if not isinstance(found, Variable):
            return {**result, "attribute_status": found}
        if data.get("attribute_type", ACTUAL) != ACTUAL:
            return {**result, "attribute_status": GetVariableStatus.not_supported_attribute_type}
        if found.mutability == WO:
            return {
                **result,
                "attribute_status": GetVariableStatus.rejected,
                "attribute_status_info": _status_info("WriteOnly"),
            }
        return {
            **result,
            "attribute_status": GetVariableStatus.accepted,
            "attribute_value": found.value,
        }

    def set(self, data: dict[str, Any]) -> tuple[dict[str, Any], Variable | None]:
        """A SetVariableResultType for a SetVariableDataType, and the variable it changed
        (None when it changed none)."""
        result: dict[str, Any] = {
            "component": data["component"],
            "variable": data["variable"],
        }
        if data.get("attribute_type") is not None:
            result["attribute_type"] = data["attribute_type"]
        found = self.find(data["component"], data["variable"])
        if not isinstance(found, Variable):
            return {**result, "attribute_status": SetVariableStatus(found.value)}, None
        if data.get("attribute_type", ACTUAL) != ACTUAL:
            status = SetVariableStatus.not_supported_attribute_type
            return {**result, "attribute_status": status}, None
        if found.mutability == RO:
            info = _status_info("ReadOnly")
            status = SetVariableStatus.rejected
            return {**result, "attribute_status": status, "attribute_status_info": info}, None
        value = data["attribute_value"]
        problem = found.problem_with(value)
        if problem is not None:
            info = _status_info(problem)
            status = SetVariableStatus.rejected
            return {**result, "attribute_status": status, "attribute_status_info": info}, None
        found.value = value
        status = (
            SetVariableStatus.reboot_required
            if found.reboot_required
            else SetVariableStatus.accepted
        )
        return {**result, "attribute_status": status}, found

    # --- reports ------------------------------------------------------------------------

    def base_report(self, report_base: str) -> list[Variable]:
        if report_base == "ConfigurationInventory":
            return [v for v in self.variables if v.mutability != RO]
        if report_base == "SummaryInventory":
            return [
                v for v in self.variables if v.name in ("AvailabilityState", "Available", "Problem")
            ]
        return list(self.variables)  # FullInventory

    def report(
        self,
        component_variables: list[dict[str, Any]] | None,
        criteria: list[str] | None,
    ) -> list[Variable]:
        """GetReport's selection: the variables named (omitted parts match any), of
        components for which a criterion (Active, Available, Enabled, Problem) holds."""
        chosen = self.variables
        if component_variables:
            chosen = [v for v in chosen if any(self._named(v, cv) for cv in component_variables)]
        if criteria:
            meeting = {
                v.component_key
                for v in self.variables
                if v.name in criteria and v.data_type == "boolean" and v.value == "true"
            }
            chosen = [v for v in chosen if v.component_key in meeting]
        return chosen

    @staticmethod
    def _named(variable: Variable, component_variable: dict[str, Any]) -> bool:
        if not _same_component(variable, component_variable["component"], True):
            return False
        wanted = component_variable.get("variable")
        return wanted is None or _same_variable(variable, wanted, True)

    # --- monitoring ---------------------------------------------------------------------

    def add_preconfigured(self, monitor: Monitor) -> None:
        self._preconfigured.append(monitor)
        self.monitors[monitor.id] = monitor
        self._next_monitor_id = max(self._next_monitor_id, monitor.id + 1)

    def set_monitor(self, data: dict[str, Any]) -> dict[str, Any]:
        """A SetMonitoringResultType for a SetMonitoringDataType."""
        result: dict[str, Any] = {
            "type": data["type"],
            "severity": data["severity"],
            "component": data["component"],
            "variable": data["variable"],
        }
        found = self.find(data["component"], data["variable"])
        if not isinstance(found, Variable):
            return {**result, "status": SetMonitoringStatus(found.value)}
        if data["type"] not in ("UpperThreshold", "LowerThreshold", "Delta"):
            # Periodic reporting is not something this station does.
            return {**result, "status": SetMonitoringStatus.unsupported_monitor_type}
        if data["type"] != "Delta" and found.data_type not in NUMERIC:
            return {**result, "status": SetMonitoringStatus.unsupported_monitor_type}
        if found.mutability == WO or not found.supports_monitoring:
            return {**result, "status": SetMonitoringStatus.rejected}
        if not 0 <= data["severity"] <= MAX_SEVERITY or (
            data["type"] == "Delta" and data["value"] < 0
        ):
            return {**result, "status": SetMonitoringStatus.rejected}
        monitor_id = data.get("id")
        if monitor_id is not None:
            existing = self.monitors.get(monitor_id)
            if existing is None or existing.kind == "HardWiredMonitor":
                return {**result, "status": SetMonitoringStatus.rejected, "id": monitor_id}
        for other in self.monitors.values():
            if (
                other.id != monitor_id
                and other.variable is found
                and other.type == data["type"]
                and other.severity == data["severity"]
            ):
                return {**result, "status": SetMonitoringStatus.duplicate}
        if monitor_id is None:
            monitor_id = self._next_monitor_id
            self._next_monitor_id += 1
        monitor = Monitor(
            monitor_id,
            found,
            data["type"],
            float(data["value"]),
            data["severity"],
            transaction=bool(data.get("transaction", False)),
            reference=found.value,
        )
        monitor.alerting = self._exceeded(monitor)
        self.monitors[monitor_id] = monitor
        return {**result, "status": SetMonitoringStatus.accepted, "id": monitor_id}

    def clear_monitor(self, monitor_id: int) -> dict[str, Any]:
        monitor = self.monitors.get(monitor_id)
        if monitor is None:
            return {"id": monitor_id, "status": ClearMonitoringStatus.not_found}
        if monitor.kind == "HardWiredMonitor":
            return {"id": monitor_id, "status": ClearMonitoringStatus.rejected}
        del self.monitors[monitor_id]
        return {"id": monitor_id, "status": ClearMonitoringStatus.accepted}

    def set_monitoring_base(self, base: str) -> None:
        """All: the factory's monitors and the custom ones; FactoryDefault: the factory's
        only; HardWiredOnly: none but those hard-wired."""
        custom = {i: m for i, m in self.monitors.items() if m.kind == "CustomMonitor"}
        kept = (
            self._preconfigured
            if base != "HardWiredOnly"
            else [m for m in self._preconfigured if m.kind == "HardWiredMonitor"]
        )
        self.monitors = {m.id: m for m in kept}
        if base == "All":
            self.monitors.update(custom)
        self.variable("MonitoringCtrlr", "ActiveMonitoringBase").value = base

    def monitoring_report(
        self,
        component_variables: list[dict[str, Any]] | None,
        criteria: list[str] | None,
    ) -> list[dict[str, Any]]:
        """MonitoringDataType entries, one per monitored variable, for NotifyMonitoringReport."""
        kinds = {
            "ThresholdMonitoring": ("UpperThreshold", "LowerThreshold"),
            "DeltaMonitoring": ("Delta",),
            "PeriodicMonitoring": ("Periodic", "PeriodicClockAligned"),
        }
        types = {t for c in criteria for t in kinds[c]} if criteria else None
        grouped: dict[int, tuple[Variable, list[Monitor]]] = {}
        for monitor in sorted(self.monitors.values(), key=lambda m: m.id):
            if types is not None and monitor.type not in types:
                continue
            if component_variables and not any(
                self._named(monitor.variable, cv) for cv in component_variables
            ):
                continue
            grouped.setdefault(id(monitor.variable), (monitor.variable, []))[1].append(monitor)
        return [
            {
                "component": variable.component_dict(),
                "variable": variable.variable_dict(),
                "variable_monitoring": [m.monitoring() for m in monitors],
            }
            for variable, monitors in grouped.values()
        ]

    def _exceeded(self, monitor: Monitor) -> bool:
        try:
            number = float(monitor.variable.value or "")
        except ValueError:
            return False
        if monitor.type == "UpperThreshold":
            return number > monitor.value
        return monitor.type == "LowerThreshold" and number < monitor.value

    def events_for(self, variable: Variable) -> list[dict[str, Any]]:
        """EventDataType entries (without eventId and timestamp) for the monitors of a
        variable that just changed, at or under the active monitoring level."""
        level = int(self.value("MonitoringCtrlr", "ActiveMonitoringLevel"))
        events = []
        for monitor in self.monitors.values():
            if monitor.variable is not variable or monitor.severity > level:
                continue
            event: dict[str, Any] | None = None
            if monitor.type == "Delta":
                if self._delta_reached(monitor):
                    monitor.reference = variable.value
                    event = {"trigger": "Delta"}
            else:
                exceeded = self._exceeded(monitor)
                if exceeded != monitor.alerting:
                    monitor.alerting = exceeded
                    event = {"trigger": "Alerting", "cleared": not exceeded}
            if event is not None:
                events.append(
                    {
                        **event,
                        "actual_value": variable.value or "",
                        "event_notification_type": monitor.kind,
                        "component": variable.component_dict(),
                        "variable": variable.variable_dict(),
                        "variable_monitoring_id": monitor.id,
                    }
                )
        return events

    @staticmethod
    def _delta_reached(monitor: Monitor) -> bool:
        new, old = monitor.variable.value, monitor.reference
        if monitor.variable.data_type in NUMERIC:
            try:
                return abs(float(new or 0) - float(old or 0)) >= monitor.value
            except ValueError:
                return new != old
        return new != old  # for other types any change is a delta


@dataclass
class Station:
    """What the standard device model is built from."""

    vendor: str
    model: str
    serial_number: str
    identity: str
    evses: int
    power_w: float
    heartbeat_interval: int
    tx_updated_interval: int
    security_profile: int


def standard_model(station: Station) -> DeviceModel:
    """A small but realistic device model: the controllers a station with transactions,
    local authorisation, reservations, smart charging, display messages and monitoring
    has, the station itself, and its EVSEs and connectors."""

    def v(component: str, name: str, value: Any, mutability: str = RO, **more: Any) -> Variable:
        if isinstance(value, bool):
            more.setdefault("data_type", "boolean")
            value = "true" if value else "false"
        elif isinstance(value, int):
            more.setdefault("data_type", "integer")
            value = str(value)
        return Variable(component, name, value, mutability, **more)

    variables = [
        v("OCPPCommCtrlr", "HeartbeatInterval", station.heartbeat_interval, RW, unit="s",
          min_limit=1),
        v("OCPPCommCtrlr", "NetworkConfigurationPriority", "1", RW, data_type="SequenceList",
          values_list="1,2", reboot_required=True),
        v("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", 3, RW, min_limit=1),
        v("OCPPCommCtrlr", "OfflineThreshold", 60, RW, unit="s", min_limit=0),
        v("OCPPCommCtrlr", "MessageTimeout", 30, RO, instance="Default", unit="s"),
        v("OCPPCommCtrlr", "MessageAttempts", 3, RW, instance="TransactionEvent", min_limit=1),
        v("OCPPCommCtrlr", "MessageAttemptInterval", 60, RW, instance="TransactionEvent",
          unit="s", min_limit=1),
        v("OCPPCommCtrlr", "ResetRetries", 2, RW, min_limit=0),
        v("OCPPCommCtrlr", "WebSocketPingInterval", 0, RW, unit="s", min_limit=0),
        v("OCPPCommCtrlr", "FileTransferProtocols", "HTTPS,FTPS", RO, data_type="MemberList",
          values_list="FTP,FTPS,HTTP,HTTPS,SFTP"),
        v("SecurityCtrlr", "BasicAuthPassword", None, WO, data_type="string",
          min_limit=16, max_limit=40, supports_monitoring=False),
        v("SecurityCtrlr", "SecurityProfile", station.security_profile, RO, min_limit=0,
          max_limit=3),
        v("SecurityCtrlr", "Identity", station.identity, RO, max_limit=48),
        v("SecurityCtrlr", "OrganizationName", station.vendor, RW, max_limit=64),
        v("SecurityCtrlr", "CertificateEntries", 0, RO),
        v("DeviceDataCtrlr", "ItemsPerMessage", 20, RO, instance="GetReport"),
        v("DeviceDataCtrlr", "ItemsPerMessage", 20, RO, instance="GetVariables"),
        v("DeviceDataCtrlr", "ItemsPerMessage", 20, RO, instance="SetVariables"),
        v("DeviceDataCtrlr", "BytesPerMessage", 65000, RO, instance="GetReport"),
        v("DeviceDataCtrlr", "BytesPerMessage", 65000, RO, instance="GetVariables"),
        v("DeviceDataCtrlr", "BytesPerMessage", 65000, RO, instance="SetVariables"),
        v("ChargingStation", "Model", station.model),
        v("ChargingStation", "VendorName", station.vendor),
        v("ChargingStation", "SerialNumber", station.serial_number),
        v("ChargingStation", "AvailabilityState", "Available", data_type="OptionList",
          values_list="Available,Unavailable,Faulted"),
        v("ChargingStation", "Available", True),
        v("ChargingStation", "Problem", False),
        v("ChargingStation", "SupplyPhases", 3),
        v("TxCtrlr", "EVConnectionTimeOut", 60, RW, unit="s", min_limit=0),
        v("TxCtrlr", "TxStartPoint", "PowerPathClosed", RO, data_type="MemberList",
          values_list="PowerPathClosed"),
        # The simulated driver ends a session by card or by unplugging: either may end it.
        v("TxCtrlr", "TxStopPoint", "EVConnected,Authorized", RW, data_type="MemberList",
          values_list="EVConnected,Authorized"),
        v("TxCtrlr", "StopTxOnEVSideDisconnect", True, RO),
        v("TxCtrlr", "StopTxOnInvalidId", True, RW),
        v("SampledDataCtrlr", "Enabled", True, RO),
        v("SampledDataCtrlr", "TxUpdatedInterval", station.tx_updated_interval, RW, unit="s",
          min_limit=0),
        v("SampledDataCtrlr", "TxEndedInterval", 0, RW, unit="s", min_limit=0),
        v("SampledDataCtrlr", "TxStartedMeasurands", "Energy.Active.Import.Register", RW,
          data_type="MemberList", values_list=MEASURANDS),
        v("SampledDataCtrlr", "TxUpdatedMeasurands",
          "Energy.Active.Import.Register,Power.Active.Import", RW, data_type="MemberList",
          values_list=MEASURANDS),
        v("SampledDataCtrlr", "TxEndedMeasurands", "Energy.Active.Import.Register", RW,
          data_type="MemberList", values_list=MEASURANDS),
        v("AuthCtrlr", "Enabled", True, RW),
        v("AuthCtrlr", "AuthorizeRemoteStart", False, RW),
        v("AuthCtrlr", "LocalAuthorizeOffline", True, RW),
        v("AuthCtrlr", "LocalPreAuthorize", False, RW),
        v("AuthCacheCtrlr", "Enabled", True, RW),
        v("AuthCacheCtrlr", "Available", True),
        v("LocalAuthListCtrlr", "Enabled", True, RW),
        v("LocalAuthListCtrlr", "Available", True),
        v("LocalAuthListCtrlr", "Entries", 0, RO),
        v("LocalAuthListCtrlr", "ItemsPerMessage", 100, RO),
        v("LocalAuthListCtrlr", "BytesPerMessage", 65000, RO),
        v("ReservationCtrlr", "Enabled", True, RW),
        v("ReservationCtrlr", "Available", True),
        v("ReservationCtrlr", "NonEvseSpecific", True, RO),
        v("SmartChargingCtrlr", "Enabled", True, RW),
        v("SmartChargingCtrlr", "Available", True),
        v("SmartChargingCtrlr", "Entries", 0, RO, instance="ChargingProfiles"),
        v("SmartChargingCtrlr", "LimitChangeSignificance", "1.0", RW, data_type="decimal",
          unit="Percent", min_limit=0, max_limit=100),
        v("SmartChargingCtrlr", "PeriodsPerSchedule", 24, RO),
        v("SmartChargingCtrlr", "ProfileStackLevel", 10, RO),
        v("SmartChargingCtrlr", "RateUnit", "A,W", RO, data_type="MemberList", values_list="A,W"),
        v("DisplayMessageCtrlr", "Enabled", True, RW),
        v("DisplayMessageCtrlr", "Available", True),
        v("DisplayMessageCtrlr", "DisplayMessages", 10, RO),
        v("DisplayMessageCtrlr", "SupportedFormats", "ASCII,UTF8,URI", RO,
          data_type="MemberList", values_list="ASCII,HTML,URI,UTF8"),
        v("DisplayMessageCtrlr", "SupportedPriorities", "AlwaysFront,InFront,NormalCycle", RO,
          data_type="MemberList", values_list="AlwaysFront,InFront,NormalCycle"),
        v("MonitoringCtrlr", "Enabled", True, RW),
        v("MonitoringCtrlr", "Available", True),
        v("MonitoringCtrlr", "ActiveMonitoringBase", "All", RO, data_type="OptionList",
          values_list="All,FactoryDefault,HardWiredOnly"),
        v("MonitoringCtrlr", "ActiveMonitoringLevel", MAX_SEVERITY, RO, min_limit=0,
          max_limit=MAX_SEVERITY),
        v("ClockCtrlr", "TimeSource", "Heartbeat", RW, data_type="SequenceList",
          values_list="Heartbeat,NTP,RealTimeClock,MobileNetwork"),
    ]  # fmt: skip
    for evse in range(1, station.evses + 1):
        variables += [
            v("EVSE", "AvailabilityState", "Available", evse=evse, data_type="OptionList",
              values_list=STATES),
            v("EVSE", "Available", True, evse=evse),
            v("EVSE", "Power", "0", evse=evse, data_type="decimal", unit="W", min_limit=0,
              max_limit=station.power_w),
            v("EVSE", "SupplyPhases", 3, evse=evse),
            v("Connector", "AvailabilityState", "Available", evse=evse, connector=1,
              data_type="OptionList", values_list=STATES),
            v("Connector", "Available", True, evse=evse, connector=1),
            v("Connector", "ConnectorType", "cType2", evse=evse, connector=1),
        ]  # fmt: skip
    model = DeviceModel(variables)
    # What the factory watches: a problem of the station (hard-wired, never removed) and
    # its availability.
    problem = model.variable("ChargingStation", "Problem")
    availability = model.variable("ChargingStation", "AvailabilityState")
    model.add_preconfigured(
        Monitor(1, problem, "Delta", 1, 0, kind="HardWiredMonitor", reference=problem.value)
    )
    model.add_preconfigured(
        Monitor(
            2,
            availability,
            "Delta",
            1,
            5,
            kind="PreconfiguredMonitor",
            reference=availability.value,
        )
    )
    return model
