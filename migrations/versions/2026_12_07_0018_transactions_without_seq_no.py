"""transactions without seq_no: a 2.0.1 session's highest seqNo is read from its events

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 03:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_column("seq_no")


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq_no", sa.Integer(), nullable=True))
    # The highest seqNo stored of each session, as 0017 kept it.
    op.execute(
        "UPDATE transactions SET seq_no = (SELECT max(e.seq_no) FROM transaction_events e "
        "WHERE e.transaction_id = transactions.id)"
    )
