"""work_order_step.assignee and sla_deadline: human steps are recorded while they wait.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('work_order_step', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('assignee', sa.String(length=100), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('sla_deadline', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_work_order_step_assignee'), ['assignee'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('work_order_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_step_assignee'))
        batch_op.drop_column('sla_deadline')
        batch_op.drop_column('assignee')
