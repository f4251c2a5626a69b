"""transactions: an index to find an id tag's open session

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 11:30:00

ConcurrentTx is checked at every Authorize and StartTransaction; with an index on id_tag
alone SQLite and PostgreSQL read every session the tag ever had. (id_tag, stop_time)
finds the open one at once and serves lookups by tag as the old index did.
"""

from alembic import op


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index("ix_transactions_tag_active", ["id_tag", "stop_time"], unique=False)
        batch_op.drop_index(batch_op.f("ix_transactions_id_tag"))


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transactions_id_tag"), ["id_tag"], unique=False)
        batch_op.drop_index("ix_transactions_tag_active")
