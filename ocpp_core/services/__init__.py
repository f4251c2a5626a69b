"""Domain services: the only code that talks SQL. Each commits, then publishes events."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db import outbox
from ocpp_core.db.group_commit import GroupCommit
from ocpp_core.events import EventBus
from ocpp_core.metrics import Metrics
from ocpp_core.services.admission import AdmissionService
from ocpp_core.services.api_tokens import ApiTokenService
from ocpp_core.services.audit import AuditService
from ocpp_core.services.budget import StorageBudget
from ocpp_core.services.charge_points import ChargePointService
from ocpp_core.services.deviations import DeviationService
from ocpp_core.services.device_model import DeviceModelService
from ocpp_core.services.event_log import EVENTS_WRITTEN, EventLog
from ocpp_core.services.fleet import FleetService
from ocpp_core.services.id_tags import IdTagService
from ocpp_core.services.message_log import MessageLog
from ocpp_core.services.notifications import NotificationService
from ocpp_core.services.operations import OperationService
from ocpp_core.services.registration import ChargePointRecords
from ocpp_core.services.retention import Retention
from ocpp_core.services.status_timeline import StatusTimelineService
from ocpp_core.services.transaction_events import TransactionEventService
from ocpp_core.services.transaction_queries import TransactionQueries
from ocpp_core.services.transaction_totals import TransactionTotals
from ocpp_core.services.transactions import TransactionService
from ocpp_core.services.users import UserService
from ocpp_core.services.webhooks import WebhookService
from ocpp_core.settings import Settings


@dataclass(frozen=True)
class Services:
    admission: AdmissionService
    charge_points: ChargePointService
    id_tags: IdTagService
    transactions: TransactionService
    transaction_queries: TransactionQueries
    transaction_totals: TransactionTotals
    users: UserService
    api_tokens: ApiTokenService
    message_log: MessageLog
    operations: OperationService
    audit: AuditService
    deviations: DeviationService
    writes: GroupCommit
    budget: StorageBudget
    retention: Retention
    status_timeline: StatusTimelineService
    # OCPP 2.0.1
    transaction_events: TransactionEventService
    device_model: DeviceModelService
    notifications: NotificationService
    fleet: FleetService
    # Events outbox and webhooks
    event_log: EventLog
    webhooks: WebhookService
    # Not a service: what the handlers and the group commit count, for /metrics.
    metrics: Metrics

    @classmethod
    def create(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        settings: Settings,
        metrics: Metrics | None = None,
    ) -> Services:
        metrics = metrics or Metrics()
        # SQLite has one connection. On PostgreSQL more than one writer only while those
        # running are held up (a lock, a slow statement): see GroupCommit.
        writes = GroupCommit(
            sessions,
            writers=1 if settings.database_url.startswith("sqlite") else 4,
            on_commit=metrics.record_commit,
        )
        id_tags = IdTagService(sessions, writes)
        registration = ChargePointRecords(writes, settings.unknown_charge_points)
        budget = StorageBudget(sessions, settings)
        # After a commit that wrote events: readers here and on the other instances look.
        outbox.notify(sessions, lambda highest: bus.publish(EVENTS_WRITTEN, "", last_id=highest))
        return cls(
            admission=AdmissionService(settings, writes),
            charge_points=ChargePointService(sessions, bus, settings, registration, budget),
            id_tags=id_tags,
            transactions=TransactionService(sessions, bus, id_tags, registration),
            transaction_queries=TransactionQueries(sessions),
            transaction_totals=TransactionTotals(sessions),
            users=UserService(sessions, bus),
            api_tokens=ApiTokenService(sessions, bus),
            message_log=MessageLog(
                sessions, bus, writes, keep_per_charge_point=settings.keep_message_log
            ),
            operations=OperationService(sessions, bus),
            audit=AuditService(sessions),
            deviations=DeviationService(sessions, bus, registration),
            writes=writes,
            budget=budget,
            retention=Retention(sessions, settings),
            status_timeline=StatusTimelineService(sessions),
            transaction_events=TransactionEventService(sessions, bus, id_tags, registration),
            device_model=DeviceModelService(sessions, bus, registration),
            notifications=NotificationService(sessions, bus, registration, budget),
            fleet=FleetService(sessions),
            event_log=EventLog(sessions),
            webhooks=WebhookService(sessions, settings),
            metrics=metrics,
        )
