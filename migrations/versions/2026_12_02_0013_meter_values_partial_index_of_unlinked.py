"""meter values: the index by charge point only for samples applied to no session

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 19:00:00

ix_meter_values_charge_point_time had an entry for every sample, but is read only for
samples applied to no session (a retried MeterValues message without one, a charge point
removed); those of sessions are found by ix_meter_values_transaction. Its upkeep was a
third of what storing a MeterValues message cost. The price: removing a charge point
(allowed only without sessions, an administrator's rare act) checks its foreign key by
reading the whole table, 0.12 s at two million samples here.
"""

from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UNLINKED = sa.text("transaction_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meter_values_unlinked",
            ["charge_point_id", "timestamp"],
            unique=False,
            sqlite_where=UNLINKED,
            postgresql_where=UNLINKED,
        )
        batch_op.drop_index("ix_meter_values_charge_point_time")


def downgrade() -> None:
    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meter_values_charge_point_time", ["charge_point_id", "timestamp"], unique=False
        )
        batch_op.drop_index("ix_meter_values_unlinked")
