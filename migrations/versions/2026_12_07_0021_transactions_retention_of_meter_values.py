"""transactions: retention of closed sessions' meter values

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 09:00:00

RETAIN_METER_VALUES_DAYS removes the samples of sessions closed longer ago than that; the
session keeps its readings and energy, and says its samples were pruned, and how many
(`meter_values_pruned_at`, `meter_values_pruned`). The sessions still to look at are found
by a partial index of those not yet pruned, by when they ended: without it every run read
the whole sessions table.

On PostgreSQL the index is built CONCURRENTLY, outside a transaction, as 0015's: a plain
CREATE INDEX holds off every StartTransaction while it reads the table.
"""

from alembic import op
import sqlalchemy as sa


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

NOT_PRUNED = sa.text("meter_values_pruned_at IS NULL")
INDEX = "ix_transactions_samples_kept"


def upgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meter_values_pruned_at", sa.DateTime(timezone=True)))
        batch_op.add_column(
            sa.Column("meter_values_pruned", sa.Integer(), server_default="0", nullable=False)
        )
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            # An upgrade cut short may have left the index INVALID: built again.
            op.drop_index(
                INDEX, table_name="transactions", postgresql_concurrently=True, if_exists=True
            )
            op.create_index(
                INDEX,
                "transactions",
                ["stop_time", "id"],
                unique=False,
                postgresql_where=NOT_PRUNED,
                postgresql_concurrently=True,
            )
        return
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(INDEX, ["stop_time", "id"], unique=False, sqlite_where=NOT_PRUNED)


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_column("meter_values_pruned")
        batch_op.drop_column("meter_values_pruned_at")
