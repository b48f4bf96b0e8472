"""customers: the follow-up order a detractor's survey opened (survey.follow_up_order_id).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "follow_up_order_id", sa.String(length=200), server_default="", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.drop_column("follow_up_order_id")
