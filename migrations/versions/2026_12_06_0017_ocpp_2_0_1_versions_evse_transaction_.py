"""ocpp 2.0.1: versions, evse, transaction events, device model

One schema for both versions: the EVSE beside the connector, the charger's string
transactionId beside our integer id, sessions that may start before their id token and
meter register are known; 2.0.1's event log, device model and reports.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 23:06:19.363622
"""

from alembic import op
import sqlalchemy as sa
import ocpp_core.db.models


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "charge_point_notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", ocpp_core.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_charge_point_notifications_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_point_notifications")),
    )
    with op.batch_alter_table("charge_point_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_charge_point_notifications_charge_point", ["charge_point_id", "id"], unique=False
        )

    op.create_table(
        "device_variables",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("component", sa.String(length=50), nullable=False),
        sa.Column("component_instance", sa.String(length=50), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("variable", sa.String(length=50), nullable=False),
        sa.Column("variable_instance", sa.String(length=50), nullable=False),
        sa.Column("attribute_type", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("mutability", sa.String(length=10), nullable=True),
        sa.Column("persistent", sa.Boolean(), nullable=True),
        sa.Column("constant", sa.Boolean(), nullable=True),
        sa.Column("data_type", sa.String(length=20), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("min_limit", sa.String(length=32), nullable=True),
        sa.Column("max_limit", sa.String(length=32), nullable=True),
        sa.Column("values_list", sa.Text(), nullable=True),
        sa.Column("supports_monitoring", sa.Boolean(), nullable=True),
        sa.Column("reboot_required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", ocpp_core.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_device_variables_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_variables")),
        sa.UniqueConstraint(
            "charge_point_id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "attribute_type",
            name="uq_device_variables_key",
        ),
    )
    op.create_table(
        "display_messages",
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("updated_at", ocpp_core.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_display_messages_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", "message_id", name=op.f("pk_display_messages")),
    )
    op.create_table(
        "installed_certificates",
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("serial_number", sa.String(length=40), nullable=False),
        sa.Column("issuer_name_hash", sa.String(length=128), nullable=False),
        sa.Column("certificate_type", sa.String(length=32), nullable=True),
        sa.Column("hash_data", sa.Text(), nullable=False),
        sa.Column("updated_at", ocpp_core.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_installed_certificates_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "charge_point_id",
            "serial_number",
            "issuer_name_hash",
            name=op.f("pk_installed_certificates"),
        ),
    )
    op.create_table(
        "variable_monitors",
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("monitor_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("component", sa.String(length=50), nullable=False),
        sa.Column("variable", sa.String(length=50), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("monitor", sa.Text(), nullable=False),
        sa.Column("updated_at", ocpp_core.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_variable_monitors_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", "monitor_id", name=op.f("pk_variable_monitors")),
    )
    op.create_table(
        "transaction_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("ocpp_transaction_id", sa.String(length=36), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=8), nullable=False),
        sa.Column("trigger_reason", sa.String(length=32), nullable=False),
        sa.Column("timestamp", ocpp_core.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", ocpp_core.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_transaction_events_charge_point_id_charge_points"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_transaction_events_transaction_id_transactions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_events")),
        sa.UniqueConstraint(
            "charge_point_id", "ocpp_transaction_id", "seq_no", name="uq_transaction_events_seq_no"
        ),
    )
    with op.batch_alter_table("transaction_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transaction_events_transaction_id"), ["transaction_id"], unique=False
        )

    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ocpp_version", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("pinned_ocpp_version", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("boot_reason", sa.String(length=32), nullable=True))

    # A 2.0.1 connector is numbered within its EVSE: the EVSE joins the key (1.6 rows: 0).
    with op.batch_alter_table("connectors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "evse_id", sa.Integer(), server_default="0", autoincrement=False, nullable=False
            )
        )
        batch_op.drop_constraint("pk_connectors", type_="primary")
        batch_op.create_primary_key("pk_connectors", ["charge_point_id", "evse_id", "connector_id"])

    with op.batch_alter_table("id_tags", schema=None) as batch_op:
        batch_op.alter_column(
            "id_tag",
            existing_type=sa.VARCHAR(length=20),
            type_=sa.String(length=36),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "parent_id_tag",
            existing_type=sa.VARCHAR(length=20),
            type_=sa.String(length=36),
            existing_nullable=True,
        )

    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evse_id", sa.Integer(), nullable=True))

    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.alter_column(
            "id_tag",
            existing_type=sa.VARCHAR(length=20),
            type_=sa.String(length=36),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "parent_id_tag",
            existing_type=sa.VARCHAR(length=20),
            type_=sa.String(length=36),
            existing_nullable=True,
        )

    with op.batch_alter_table("status_notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evse_id", sa.Integer(), server_default="0", nullable=False))

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evse_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ocpp_transaction_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("id_token_type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("seq_no", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("charging_state", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("remote_start_id", sa.Integer(), nullable=True))
        batch_op.alter_column(
            "id_tag", existing_type=sa.VARCHAR(length=20), type_=sa.String(length=36), nullable=True
        )
        batch_op.alter_column("id_tag_status", existing_type=sa.VARCHAR(length=16), nullable=True)
        batch_op.alter_column("meter_start", existing_type=sa.BIGINT(), nullable=True)
        batch_op.alter_column(
            "stop_id_tag",
            existing_type=sa.VARCHAR(length=20),
            type_=sa.String(length=36),
            existing_nullable=True,
        )
        batch_op.create_index(
            "uq_transactions_ocpp_transaction_id",
            ["charge_point_id", "ocpp_transaction_id"],
            unique=True,
        )


def downgrade() -> None:
    # 2.0.1 sessions cannot be held by the 1.6-only schema.
    op.execute("DELETE FROM transaction_events")
    op.execute(
        "UPDATE meter_values SET transaction_id = NULL WHERE transaction_id IN "
        "(SELECT id FROM transactions WHERE ocpp_transaction_id IS NOT NULL)"
    )
    op.execute("DELETE FROM transactions WHERE ocpp_transaction_id IS NOT NULL")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("uq_transactions_ocpp_transaction_id")
        batch_op.alter_column(
            "stop_id_tag",
            existing_type=sa.String(length=36),
            type_=sa.VARCHAR(length=20),
            existing_nullable=True,
        )
        batch_op.alter_column("meter_start", existing_type=sa.BIGINT(), nullable=False)
        batch_op.alter_column("id_tag_status", existing_type=sa.VARCHAR(length=16), nullable=False)
        batch_op.alter_column(
            "id_tag",
            existing_type=sa.String(length=36),
            type_=sa.VARCHAR(length=20),
            nullable=False,
        )
        batch_op.drop_column("remote_start_id")
        batch_op.drop_column("charging_state")
        batch_op.drop_column("seq_no")
        batch_op.drop_column("id_token_type")
        batch_op.drop_column("ocpp_transaction_id")
        batch_op.drop_column("evse_id")

    with op.batch_alter_table("status_notifications", schema=None) as batch_op:
        batch_op.drop_column("evse_id")

    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.alter_column(
            "parent_id_tag",
            existing_type=sa.String(length=36),
            type_=sa.VARCHAR(length=20),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "id_tag",
            existing_type=sa.String(length=36),
            type_=sa.VARCHAR(length=20),
            existing_nullable=False,
        )

    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.drop_column("evse_id")

    with op.batch_alter_table("id_tags", schema=None) as batch_op:
        batch_op.alter_column(
            "parent_id_tag",
            existing_type=sa.String(length=36),
            type_=sa.VARCHAR(length=20),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "id_tag",
            existing_type=sa.String(length=36),
            type_=sa.VARCHAR(length=20),
            existing_nullable=False,
        )

    op.execute("DELETE FROM connectors WHERE evse_id <> 0")
    with op.batch_alter_table("connectors", schema=None) as batch_op:
        batch_op.drop_constraint("pk_connectors", type_="primary")
        batch_op.create_primary_key("pk_connectors", ["charge_point_id", "connector_id"])
        batch_op.drop_column("evse_id")

    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.drop_column("boot_reason")
        batch_op.drop_column("pinned_ocpp_version")
        batch_op.drop_column("ocpp_version")

    with op.batch_alter_table("transaction_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transaction_events_transaction_id"))

    op.drop_table("transaction_events")
    op.drop_table("variable_monitors")
    op.drop_table("installed_certificates")
    op.drop_table("display_messages")
    op.drop_table("device_variables")
    with op.batch_alter_table("charge_point_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_charge_point_notifications_charge_point")

    op.drop_table("charge_point_notifications")
