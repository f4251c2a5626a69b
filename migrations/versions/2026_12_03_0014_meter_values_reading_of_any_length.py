"""meter values: a reading of any length

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:30:00

OCPP 1.6 gives sampledValue.value no length, so a conformant charger may send a reading
longer than the 64 characters meter_values.value kept: PostgreSQL refused the row and the
charger got an InternalError for a valid MeterValues. On PostgreSQL varchar(64) to text
rewrites nothing; SQLite rebuilds the table.
"""

from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.alter_column(
            "value", existing_type=sa.String(length=64), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.alter_column(
            "value", existing_type=sa.Text(), type_=sa.String(length=64), existing_nullable=False
        )
