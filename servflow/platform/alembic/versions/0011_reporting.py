"""reporting: the counters dashboards read (report_counter) and what each order added to
them (report_order).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "report_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_counter")),
        sa.UniqueConstraint(
            "org_path",
            "metric",
            "day",
            "key",
            "bin",
            name=op.f("uq_report_counter_org_path_metric_day_key_bin"),
        ),
    )
    op.create_index(
        "ix_report_counter_depth", "report_counter", ["depth", "metric", "day"], unique=False
    )
    op.create_table(
        "report_order",
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("province", sa.String(length=32), nullable=False),
        sa.Column("revenue", JSON_TYPE, nullable=False),
        sa.Column("cells", JSON_TYPE, nullable=False),
        sa.Column("sla_next", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_report_order")),
    )
    op.create_index(op.f("ix_report_order_org_path"), "report_order", ["org_path"], unique=False)
    op.create_index(op.f("ix_report_order_sla_next"), "report_order", ["sla_next"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_report_order_sla_next"), table_name="report_order")
    op.drop_index(op.f("ix_report_order_org_path"), table_name="report_order")
    op.drop_table("report_order")
    op.drop_index("ix_report_counter_depth", table_name="report_counter")
    op.drop_table("report_counter")
