"""customers: the order step a sign-off link completes (signoff_link.node_id) and when the
customer's sign-off was handed to it (signoff_link.step_submitted_at).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signoff_link", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("node_id", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("step_submitted_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("signoff_link", schema=None) as batch_op:
        batch_op.drop_column("step_submitted_at")
        batch_op.drop_column("node_id")
