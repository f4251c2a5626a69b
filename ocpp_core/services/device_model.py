"""A 2.0.1 charger's device model: components, variables and their attributes, as reported
(NotifyReport, in parts after GetBaseReport/GetReport) and as read and written since
(GetVariables, SetVariables answers); and what else the charger reports of its own state:
variable monitors and display messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import DeviceVariable, DisplayMessage, VariableMonitor, utcnow
from ocpp_core.db.upsert import per_dialect
from ocpp_core.events import EventBus
from ocpp_core.services.budget import bounded
from ocpp_core.services.message_log import REDACTED, is_secret_variable
from ocpp_core.services.registration import ChargePointRecords

# The columns that name one attribute ('' and -1 for "none": see DeviceVariable).
_KEY = (
    "charge_point_id",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
)


@dataclass(frozen=True)
class VariableView:
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    attribute_type: str
    value: str | None
    mutability: str | None
    data_type: str | None
    unit: str | None
    values_list: str | None
    reboot_required: bool
    source: str
    updated_at: datetime

    @property
    def writable(self) -> bool:
        return self.mutability in ("ReadWrite", "WriteOnly")

    @property
    def name(self) -> str:
        """`EVSE[1].Power`, `OCPPCommCtrlr.HeartbeatInterval`: how operators write it."""
        component = self.component
        if self.component_instance:
            component += f"[{self.component_instance}]"
        if self.evse_id is not None:
            component += f"@{self.evse_id}"
            if self.connector_id is not None:
                component += f".{self.connector_id}"
        variable = self.variable
        if self.variable_instance:
            variable += f"[{self.variable_instance}]"
        return f"{component}.{variable}"


def key_of(
    charge_point_id: str,
    component: dict[str, Any],
    variable: dict[str, Any],
    attribute_type: str | None,
) -> dict[str, Any]:
    """The key columns of one attribute, from 2.0.1 ComponentType/VariableType (snake)."""
    evse = component.get("evse") or {}
    return {
        "charge_point_id": charge_point_id,
        "component": component["name"],
        "component_instance": component.get("instance") or "",
        "evse_id": evse.get("id", -1),
        "connector_id": evse.get("connector_id", -1) if evse else -1,
        "variable": variable["name"],
        "variable_instance": variable.get("instance") or "",
        "attribute_type": attribute_type or "Actual",
    }


def _kept_value(key: dict[str, Any], value: str | None) -> str | None:
    # A password a charger reports (or is set) is never kept in clear.
    if value is not None and is_secret_variable(key["component"], key["variable"]):
        return REDACTED
    return bounded(value)


def _upsert(columns: tuple[str, ...]) -> Any:
    @per_dialect
    def build(insert: Any) -> Any:
        upsert = insert(DeviceVariable.__table__)
        return upsert.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={column: upsert.excluded[column] for column in columns},
        )

    return build


_REPORTED = (
    "value", "mutability", "persistent", "constant", "data_type", "unit", "min_limit",
    "max_limit", "values_list", "supports_monitoring", "reboot_required", "source",
    "updated_at",
)  # fmt: skip
_REPORT_UPSERT = _upsert(_REPORTED)
_VALUE_UPSERT = _upsert(("value", "reboot_required", "source", "updated_at"))


def _view(row: DeviceVariable) -> VariableView:
    return VariableView(
        component=row.component,
        component_instance=row.component_instance or None,
        evse_id=None if row.evse_id < 0 else row.evse_id,
        connector_id=None if row.connector_id < 0 else row.connector_id,
        variable=row.variable,
        variable_instance=row.variable_instance or None,
        attribute_type=row.attribute_type,
        value=row.value,
        mutability=row.mutability,
        data_type=row.data_type,
        unit=row.unit,
        values_list=row.values_list,
        reboot_required=row.reboot_required,
        source=row.source,
        updated_at=row.updated_at,
    )


class DeviceModelService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        registration: ChargePointRecords,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._registration = registration

    # --- what the charger reports -------------------------------------------------------

    async def report(self, charge_point_id: str, report_data: list[dict[str, Any]]) -> None:
        """One NotifyReport part: every attribute it names, with its characteristics."""
        now = utcnow()
        rows = []
        for item in report_data:
            characteristics = item.get("variable_characteristics") or {}
            for attribute in item["variable_attribute"]:
                key = key_of(
                    charge_point_id, item["component"], item["variable"], attribute.get("type")
                )
                rows.append(
                    {
                        **key,
                        "value": _kept_value(key, attribute.get("value")),
                        "mutability": attribute.get("mutability") or "ReadWrite",
                        "persistent": attribute.get("persistent"),
                        "constant": attribute.get("constant"),
                        "data_type": characteristics.get("data_type"),
                        "unit": characteristics.get("unit"),
                        "min_limit": _text(characteristics.get("min_limit")),
                        "max_limit": _text(characteristics.get("max_limit")),
                        "values_list": bounded(characteristics.get("values_list")),
                        "supports_monitoring": characteristics.get("supports_monitoring"),
                        "reboot_required": False,
                        "source": "NotifyReport",
                        "updated_at": now,
                    }
                )
        if not rows:
            return

        async def work(session: AsyncSession) -> None:
            await session.execute(_REPORT_UPSERT(session), rows)

        await self._registration.run(charge_point_id, work)
        self._bus.publish("device_model", charge_point_id, variables=len(rows))

    async def values_read(self, charge_point_id: str, results: list[dict[str, Any]]) -> None:
        """A GetVariables answer (snake_case get_variable_result): the values it read."""
        rows = [
            {
                **key_of(
                    charge_point_id,
                    result["component"],
                    result["variable"],
                    result.get("attribute_type"),
                ),
                "value": result.get("attribute_value"),
                "reboot_required": False,
                "source": "GetVariables",
                "updated_at": utcnow(),
            }
            for result in results
            if result["attribute_status"] == "Accepted"
        ]
        await self._write_values(charge_point_id, rows)

    async def values_set(
        self,
        charge_point_id: str,
        requested: list[dict[str, Any]],
        results: list[dict[str, Any]],
    ) -> None:
        """A SetVariables answer: each value the charger Accepted (or will use after a
        reboot, RebootRequired) becomes the held one; a password only as redacted."""
        wanted = {
            tuple(
                key_of(
                    charge_point_id, r["component"], r["variable"], r.get("attribute_type")
                ).values()
            ): r["attribute_value"]
            for r in requested
        }
        rows = []
        for result in results:
            if result["attribute_status"] not in ("Accepted", "RebootRequired"):
                continue
            key = key_of(
                charge_point_id, result["component"], result["variable"],
                result.get("attribute_type"),
            )  # fmt: skip
            value = wanted.get(tuple(key.values()))
            if value is None:
                continue
            rows.append(
                {
                    **key,
                    "value": _kept_value(key, value),
                    "reboot_required": result["attribute_status"] == "RebootRequired",
                    "source": "SetVariables",
                    "updated_at": utcnow(),
                }
            )
        await self._write_values(charge_point_id, rows)

    async def _write_values(self, charge_point_id: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        async with self._sessions.begin() as session:
            await session.execute(_VALUE_UPSERT(session), rows)
        self._bus.publish("device_model", charge_point_id, variables=len(rows))

    async def rebooted(self, charge_point_id: str) -> None:
        """After a boot, values set RebootRequired are in force (one UPDATE, in the boot's
        group commit)."""

        async def work(session: AsyncSession) -> None:
            await session.execute(
                update(DeviceVariable)
                .where(
                    DeviceVariable.charge_point_id == charge_point_id,
                    DeviceVariable.reboot_required.is_(True),
                )
                .values(reboot_required=False)
            )

        await self._registration.run(charge_point_id, work)

    async def monitoring_report(self, charge_point_id: str, monitors: list[dict[str, Any]]) -> None:
        """A NotifyMonitoringReport part: the monitors set on each variable it names."""
        items = [
            (item, monitor)
            for item in monitors
            for monitor in item["variable_monitoring"]
        ]  # fmt: skip

        async def work(session: AsyncSession) -> None:
            for item, monitor in items:
                await self._keep_monitor(session, charge_point_id, item, monitor)

        if items:
            await self._registration.run(charge_point_id, work)

    @staticmethod
    async def _keep_monitor(
        session: AsyncSession,
        charge_point_id: str,
        item: dict[str, Any],
        monitor: dict[str, Any],
    ) -> None:
        row = await session.get(VariableMonitor, (charge_point_id, monitor["id"]))
        if row is None:
            row = VariableMonitor(charge_point_id=charge_point_id, monitor_id=monitor["id"])
            session.add(row)
        row.component = item["component"]["name"]
        row.variable = item["variable"]["name"]
        row.type = monitor["type"]
        row.value = _text(monitor["value"]) or ""
        row.severity = monitor["severity"]
        row.monitor = orjson.dumps({**monitor, **item}).decode()
        row.updated_at = utcnow()

    async def monitors_set(
        self,
        charge_point_id: str,
        requested: list[dict[str, Any]],
        results: list[dict[str, Any]],
    ) -> None:
        """A SetVariableMonitoring answer: the monitors the charger Accepted, by their id."""
        async with self._sessions.begin() as session:
            for request, result in zip(requested, results, strict=False):
                if result["status"] != "Accepted" or result.get("id") is None:
                    continue
                item = {"component": result["component"], "variable": result["variable"]}
                monitor = {
                    "id": result["id"],
                    "type": result["type"],
                    "value": request["value"],
                    "severity": result["severity"],
                    "transaction": request.get("transaction", False),
                }
                await self._keep_monitor(session, charge_point_id, item, monitor)

    async def monitors_cleared(self, charge_point_id: str, results: list[dict[str, Any]]) -> None:
        """A ClearVariableMonitoring answer: the monitors Accepted as cleared are gone."""
        ids = [r["id"] for r in results if r["status"] in ("Accepted", "NotFound")]
        if not ids:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                delete(VariableMonitor).where(
                    VariableMonitor.charge_point_id == charge_point_id,
                    VariableMonitor.monitor_id.in_(ids),
                )
            )

    async def display_messages(self, charge_point_id: str, messages: list[dict[str, Any]]) -> None:
        """Display messages the charger holds (NotifyDisplayMessages, or one it Accepted
        from SetDisplayMessage): kept by their id."""
        if not messages:
            return

        async def work(session: AsyncSession) -> None:
            for message in messages:
                row = await session.get(DisplayMessage, (charge_point_id, message["id"]))
                if row is None:
                    row = DisplayMessage(charge_point_id=charge_point_id, message_id=message["id"])
                    session.add(row)
                row.priority = message["priority"]
                row.state = message.get("state")
                row.message = orjson.dumps(message).decode()
                row.updated_at = utcnow()

        await self._registration.run(charge_point_id, work)

    async def display_message_cleared(self, charge_point_id: str, message_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(DisplayMessage).where(
                    DisplayMessage.charge_point_id == charge_point_id,
                    DisplayMessage.message_id == message_id,
                )
            )

    # --- queries ------------------------------------------------------------------------

    async def variables(
        self, charge_point_id: str, search: str | None = None, limit: int = 2000
    ) -> list[VariableView]:
        """The device model, by component and variable; `search` matches either name."""
        query = select(DeviceVariable).where(DeviceVariable.charge_point_id == charge_point_id)
        if search:
            pattern = f"%{search.lower()}%"
            query = query.where(
                or_(
                    func.lower(DeviceVariable.component).like(pattern),
                    func.lower(DeviceVariable.variable).like(pattern),
                )
            )
        query = query.order_by(
            DeviceVariable.component,
            DeviceVariable.component_instance,
            DeviceVariable.evse_id,
            DeviceVariable.connector_id,
            DeviceVariable.variable,
            DeviceVariable.variable_instance,
            DeviceVariable.attribute_type,
        ).limit(limit)
        async with self._sessions() as session:
            return [_view(row) for row in (await session.scalars(query)).all()]

    async def variable(
        self, charge_point_id: str, component: dict[str, Any], variable: dict[str, Any],
        attribute_type: str | None = None,
    ) -> VariableView | None:  # fmt: skip
        """One attribute as held, None if the charger never reported it."""
        key = key_of(charge_point_id, component, variable, attribute_type)
        async with self._sessions() as session:
            row = await session.scalar(
                select(DeviceVariable).where(
                    *(getattr(DeviceVariable, column) == value for column, value in key.items())
                )
            )
        return _view(row) if row is not None else None

    async def has_report(self, charge_point_id: str) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(DeviceVariable.id)
                .where(DeviceVariable.charge_point_id == charge_point_id)
                .limit(1)
            )
        return found is not None

    async def monitors(self, charge_point_id: str) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(VariableMonitor)
                    .where(VariableMonitor.charge_point_id == charge_point_id)
                    .order_by(VariableMonitor.monitor_id)
                )
            ).all()
        return [
            {
                "id": r.monitor_id,
                "component": r.component,
                "variable": r.variable,
                "type": r.type,
                "value": r.value,
                "severity": r.severity,
                "updated_at": r.updated_at,
            }
            for r in rows
        ]

    async def messages(self, charge_point_id: str) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(DisplayMessage)
                    .where(DisplayMessage.charge_point_id == charge_point_id)
                    .order_by(DisplayMessage.message_id)
                )
            ).all()
        return [
            {**orjson.loads(r.message), "updated_at": r.updated_at} for r in rows
        ]  # fmt: skip


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
