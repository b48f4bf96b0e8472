"""channels: the outbox's delivery state, WeCom cards, marketplace messages in and out,
customer identities, merges, assets, sign-off links and surveys.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("org_path", sa.String(length=400), server_default="", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_customer_org_path"), ["org_path"], unique=False)
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("msg_id", sa.String(length=128), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("external_order_id", sa.String(length=128), nullable=False),
        sa.Column("sealed_body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_message")),
        sa.UniqueConstraint("platform", "msg_id", name=op.f("uq_inbound_message_platform_msg_id")),
    )
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_message_external_order_id"), ["external_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_inbound_message_status"), ["status"], unique=False)

    op.create_table(
        "outbound_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("external_order_id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_update")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbound_update_idempotency_key")),
    )
    with op.batch_alter_table("outbound_update", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbound_update_external_order_id"), ["external_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbound_update_state"), ["state"], unique=False)

    op.create_table(
        "wecom_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("wecom_userid", sa.String(length=100), nullable=False),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_code", sa.String(length=200), nullable=False),
        sa.Column("applied", sa.String(length=16), nullable=False),
        sa.Column("apply_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wecom_card")),
        sa.UniqueConstraint("task_id", name=op.f("uq_wecom_card_task_id")),
    )
    with op.batch_alter_table("wecom_card", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wecom_card_order_id"), ["order_id"], unique=False)

    op.create_table(
        "customer_asset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("serial_no", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.Column("warranty_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_customer_asset_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_asset")),
    )
    with op.batch_alter_table("customer_asset", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_asset_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "customer_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_customer_identity_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_identity")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_customer_identity_kind_value")),
    )
    with op.batch_alter_table("customer_identity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_identity_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "customer_merge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kept_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["kept_id"], ["customer.id"], name=op.f("fk_customer_merge_kept_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merge")),
    )
    with op.batch_alter_table("customer_merge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_merge_kept_id"), ["kept_id"], unique=False)

    op.create_table(
        "signoff_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("outlet", sa.String(length=64), nullable=False),
        sa.Column("engineer", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_signoff_link_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signoff_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_signoff_link_token_hash")),
    )
    with op.batch_alter_table("signoff_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signoff_link_order_id"), ["order_id"], unique=False)

    op.create_table(
        "survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("outlet", sa.String(length=64), nullable=False),
        sa.Column("engineer", sa.String(length=100), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("signature_file", sa.String(length=200), nullable=False),
        sa.Column("follow_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_survey_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey")),
        sa.UniqueConstraint("order_id", name=op.f("uq_survey_order_id")),
    )
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_org_path"), ["org_path"], unique=False)

    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="text", nullable=False)
        )
        batch_op.add_column(sa.Column("payload", JSON, server_default="{}", nullable=False))
        batch_op.add_column(
            sa.Column("org_path", sa.String(length=400), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="pending", nullable=False)
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), server_default="", nullable=False))
        batch_op.create_index(
            "ix_notification_status_next", ["status", "next_attempt_at"], unique=False
        )

    # Rows the old notifier delivered are sent; the others wait for the relay.
    op.execute("UPDATE notification SET status = 'sent' WHERE sent_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_org_path"))
        batch_op.drop_column("org_path")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_status_next")
        batch_op.drop_column("last_error")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("status")
        batch_op.drop_column("org_path")
        batch_op.drop_column("payload")
        batch_op.drop_column("kind")

    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_org_path"))
        batch_op.drop_index(batch_op.f("ix_survey_customer_id"))

    op.drop_table("survey")
    with op.batch_alter_table("signoff_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signoff_link_order_id"))

    op.drop_table("signoff_link")
    with op.batch_alter_table("customer_merge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_merge_kept_id"))

    op.drop_table("customer_merge")
    with op.batch_alter_table("customer_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_identity_customer_id"))

    op.drop_table("customer_identity")
    with op.batch_alter_table("customer_asset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_asset_customer_id"))

    op.drop_table("customer_asset")
    with op.batch_alter_table("wecom_card", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wecom_card_order_id"))

    op.drop_table("wecom_card")
    with op.batch_alter_table("outbound_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_update_state"))
        batch_op.drop_index(batch_op.f("ix_outbound_update_external_order_id"))

    op.drop_table("outbound_update")
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_message_status"))
        batch_op.drop_index(batch_op.f("ix_inbound_message_external_order_id"))

    op.drop_table("inbound_message")
