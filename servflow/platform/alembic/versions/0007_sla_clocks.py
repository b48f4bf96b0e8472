"""sla clocks: calendars, versioned SLA policies and the clock of each business-time step.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sla_calendar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope_path", sa.String(length=400), nullable=False),
        sa.Column("body", JSON_TYPE, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_calendar")),
        sa.UniqueConstraint("key", name=op.f("uq_sla_calendar_key")),
    )
    with op.batch_alter_table("sla_calendar", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sla_calendar_scope_path"), ["scope_path"], unique=False
        )

    op.create_table(
        "sla_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scope_path", sa.String(length=400), nullable=False),
        sa.Column("body", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policy")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_sla_policy_key_version")),
    )
    with op.batch_alter_table("sla_policy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_policy_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_policy_scope_path"), ["scope_path"], unique=False)

    op.create_table(
        "sla_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("node_name", sa.String(length=200), nullable=False),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("policy_key", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("calendar_key", sa.String(length=64), nullable=False),
        sa.Column("calendar", JSON_TYPE, nullable=False),
        sa.Column("target_seconds", sa.Integer(), nullable=False),
        sa.Column("ladder", JSON_TYPE, nullable=False),
        sa.Column("fired", JSON_TYPE, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("at_risk_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clock")),
        sa.UniqueConstraint(
            "order_id", "node_id", "visit", name=op.f("uq_sla_clock_order_id_node_id_visit")
        ),
    )
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_clock_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_clock_org_path"), ["org_path"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_clock_deadline"), ["deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_clock_at_risk_at"), ["at_risk_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_clock_closed_at"), ["closed_at"], unique=False)


def downgrade() -> None:
    op.drop_table("sla_clock")
    op.drop_table("sla_policy")
    op.drop_table("sla_calendar")
