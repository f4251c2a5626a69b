"""charge points: when the last connection opened and closed

Kept for the portal's "connected since" and "offline since" (on any instance), written
with the admission's update and once at disconnection: no write per message.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import ocpp_core.db.models


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("connected_at", ocpp_core.db.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "disconnected_at", ocpp_core.db.models.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.drop_column("disconnected_at")
        batch_op.drop_column("connected_at")
