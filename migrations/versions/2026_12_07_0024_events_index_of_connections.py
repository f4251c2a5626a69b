"""events: an index of the charge points' connections and disconnections

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 12:00:00

A charge point's status timeline shows it Offline between a `disconnected` event and the
next `connected` one. Without an index led by the charge point, finding a charger's few
connection events reads the whole outbox (every status and session event of the fleet
for RETAIN_EVENTS_DAYS), on every view of its page. The index is partial: only connection
events get an entry, so the status events, most of the outbox, cost nothing more.

On PostgreSQL it is built CONCURRENTLY, outside a transaction, so the instances still
running keep writing events (every StatusNotification's) meanwhile.
"""

from alembic import op
import sqlalchemy as sa


revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

CONNECTIONS = sa.text("kind IN ('connected', 'disconnected')")


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            # An upgrade cut short may leave the index INVALID: made again from the start.
            op.drop_index(
                "ix_events_connections",
                table_name="events",
                postgresql_concurrently=True,
                if_exists=True,
            )
            op.create_index(
                "ix_events_connections",
                "events",
                ["charge_point_id", "created_at"],
                unique=False,
                postgresql_where=CONNECTIONS,
                postgresql_concurrently=True,
            )
        return
    op.create_index(
        "ix_events_connections",
        "events",
        ["charge_point_id", "created_at"],
        unique=False,
        sqlite_where=CONNECTIONS,
    )


def downgrade() -> None:
    op.drop_index("ix_events_connections", table_name="events")
