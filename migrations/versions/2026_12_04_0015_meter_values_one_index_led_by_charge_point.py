"""meter values: one index, led by the charge point

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 05:00:00

Removing a charge point checks the foreign key meter_values.charge_point_id, and with no
index led by that column both databases read the whole table for it: on SQLite, 0.1 s a
million samples with every writer waiting (a large network stores tens of millions a
day). ix_meter_values_charge_point (charge_point_id, transaction_id, timestamp) serves
that check, a session's samples (by its charger and id) and a charger's samples of no
session (transaction_id IS NULL), so it replaces both ix_meter_values_transaction and the
partial ix_meter_values_unlinked: still one entry a sample.

On PostgreSQL the index is built CONCURRENTLY, outside a transaction: a plain CREATE INDEX
holds every write to the table off while it reads the whole table, and the instances
still running (a PaaS's release phase runs before the new ones start) would answer no
MeterValues, nor anything written in the same group commit, meanwhile.
"""

from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UNLINKED = sa.text("transaction_id IS NULL")


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            # Outside a transaction, an upgrade cut short (its instance killed) leaves what
            # it had done, the new index perhaps INVALID: done again from the start.
            op.drop_index(
                "ix_meter_values_charge_point",
                table_name="meter_values",
                postgresql_concurrently=True,
                if_exists=True,
            )
            op.create_index(
                "ix_meter_values_charge_point",
                "meter_values",
                ["charge_point_id", "transaction_id", "timestamp"],
                unique=False,
                postgresql_concurrently=True,
            )
            for index in ("ix_meter_values_unlinked", "ix_meter_values_transaction"):
                op.drop_index(
                    index, table_name="meter_values", postgresql_concurrently=True, if_exists=True
                )
        return
    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meter_values_charge_point",
            ["charge_point_id", "transaction_id", "timestamp"],
            unique=False,
        )
        batch_op.drop_index("ix_meter_values_unlinked")
        batch_op.drop_index("ix_meter_values_transaction")


def downgrade() -> None:
    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meter_values_transaction", ["transaction_id", "timestamp"], unique=False
        )
        batch_op.create_index(
            "ix_meter_values_unlinked",
            ["charge_point_id", "timestamp"],
            unique=False,
            sqlite_where=UNLINKED,
            postgresql_where=UNLINKED,
        )
        batch_op.drop_index("ix_meter_values_charge_point")
