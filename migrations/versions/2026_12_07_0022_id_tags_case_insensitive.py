"""id tags case-insensitive; the 1.6 start identity for 1.6 sessions only

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 12:00:00

OCPP's idTag (1.6) and idToken (2.0.1) are CiString: "abc123" is the tag "ABC123". Tags
stay stored as written and are compared by lower() (ocpp_core.db.ci_string), on these
expression indexes:
- uq_id_tags_lower_id_tag: one tag whatever its case, and Authorize's lookup;
- ix_transactions_tag_lower_active (lower(id_tag), stop_time), replacing
  ix_transactions_tag_active: a tag's open session (ConcurrentTx) in any spelling.

A database holding two tags that differ only in case ("ABC" and "abc") is not upgraded:
the migration stops, changes nothing and names them. Merging them would have to choose
whose status (blocked, expired, parent) a charger gets, and keeping both with a non-unique
index would let the same card be Accepted or Blocked by which row a lookup meets first.
Which one is the real card is the operator's to say: delete the others (with the version
before this one: the portal, DELETE /api/id-tags/{tag}, or SQL), then upgrade again.

uq_transactions_start_identity (charge point, connector, tag, start time, meter start)
tells a retried 1.6 StartTransaction from a new one, but it held 2.0.1 sessions too: a
station whose clock stands still starts a second transaction on the same connector, with
the same token, time and meter reading, and its TransactionEvent Started failed on the
constraint at every retry, forever. uq_transactions_v16_start_identity is the same index
for 1.6 sessions only (ocpp_transaction_id IS NULL): a 2.0.1 session is told apart by its
transactionId (uq_transactions_ocpp_transaction_id).

On PostgreSQL the transactions indexes are built CONCURRENTLY, outside a transaction, as
0015's: a plain CREATE INDEX would hold off every StartTransaction while it reads the
table. id_tags is small: its index is built in the transaction that checks it.
"""

from alembic import op
import sqlalchemy as sa

from ocpp_core.db.migrate import MigrationRefused


revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

START_IDENTITY = ["charge_point_id", "connector_id", "id_tag", "start_time", "meter_start"]
V16_SESSIONS = sa.text("ocpp_transaction_id IS NULL")
LOWER_TAG = sa.text("lower(id_tag)")
NAMED_AT_MOST = 20

CASE_TWINS = sa.text(
    "SELECT lower(id_tag), id_tag FROM id_tags WHERE lower(id_tag) IN "
    "(SELECT lower(id_tag) FROM id_tags GROUP BY lower(id_tag) HAVING count(*) > 1)"
)


def _refuse_case_twins() -> None:
    """Stop, naming them, if two tags differ only in case."""
    twins: dict[str, list[str]] = {}
    for folded, tag in op.get_bind().execute(CASE_TWINS):
        twins.setdefault(folded, []).append(tag)
    if not twins:
        return
    # Sorted here: the databases' collations order "ABC" and "abc" differently.
    groups = [" = ".join(repr(tag) for tag in sorted(twins[key])) for key in sorted(twins)]
    named = "; ".join(groups[:NAMED_AT_MOST])
    if len(groups) > NAMED_AT_MOST:
        named += f"; and {len(groups) - NAMED_AT_MOST} more"
    raise MigrationRefused(
        f"revision 0022 makes id tags case-insensitive, as OCPP compares them, and these "
        f"differ only in case: {named}. Each is one tag to a charger, and which one's "
        "status it should get cannot be told. Delete all but one of each (with the "
        "version running now: the portal's id tags page, DELETE /api/id-tags/{tag}, or "
        "SQL: DELETE FROM id_tags WHERE id_tag = '...'), then upgrade again. Nothing was "
        "changed."
    )


def upgrade() -> None:
    _refuse_case_twins()
    # An upgrade cut short on PostgreSQL (outside a transaction below) left it: built again.
    op.drop_index("uq_id_tags_lower_id_tag", table_name="id_tags", if_exists=True)
    op.create_index("uq_id_tags_lower_id_tag", "id_tags", [LOWER_TAG], unique=True)
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            _postgresql_transactions_indexes()
        return
    # SQLite: the constraint is part of the table, which is copied without it. The new
    # indexes come after the copy: SQLAlchemy cannot reflect an expression index, and a
    # copy would leave one behind.
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_transactions_start_identity", type_="unique")
        batch_op.drop_index("ix_transactions_tag_active")
    op.create_index(
        "uq_transactions_v16_start_identity",
        "transactions",
        START_IDENTITY,
        unique=True,
        sqlite_where=V16_SESSIONS,
    )
    op.create_index(
        "ix_transactions_tag_lower_active", "transactions", [LOWER_TAG, "stop_time"]
    )


def _postgresql_transactions_indexes() -> None:
    """Each new index built (again, if a cut-short upgrade left it, perhaps INVALID) before
    the old one it replaces goes: StartTransaction is never without either."""
    for name, columns, options in (
        ("ix_transactions_tag_lower_active", [LOWER_TAG, "stop_time"], {}),
        (
            "uq_transactions_v16_start_identity",
            START_IDENTITY,
            {"unique": True, "postgresql_where": V16_SESSIONS},
        ),
    ):
        op.drop_index(
            name, table_name="transactions", postgresql_concurrently=True, if_exists=True
        )
        op.create_index(name, "transactions", columns, postgresql_concurrently=True, **options)
    op.execute(
        "ALTER TABLE transactions DROP CONSTRAINT IF EXISTS uq_transactions_start_identity"
    )
    op.drop_index(
        "ix_transactions_tag_active",
        table_name="transactions",
        postgresql_concurrently=True,
        if_exists=True,
    )


def downgrade() -> None:
    # The indexes SQLite's table copy could not carry go first.
    op.drop_index("ix_transactions_tag_lower_active", table_name="transactions")
    op.drop_index("uq_transactions_v16_start_identity", table_name="transactions")
    op.drop_index("uq_id_tags_lower_id_tag", table_name="id_tags")
    # Fails where two 2.0.1 sessions share a start (the database's error names it): the
    # old constraint cannot hold them both.
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_transactions_start_identity", START_IDENTITY)
        batch_op.create_index("ix_transactions_tag_active", ["id_tag", "stop_time"])
