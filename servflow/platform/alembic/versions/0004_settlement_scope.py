"""settlement.org_path and region: money keeps the scope it was settled under.

Finance lists settlements by scope without reading the work-order read model (another
domain's table), and a later reassignment does not move money already settled.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('org_path', sa.String(length=400), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('region', sa.String(length=64), nullable=False, server_default='')
        )
        batch_op.create_index(batch_op.f('ix_settlement_org_path'), ['org_path'], unique=False)
        batch_op.create_index(batch_op.f('ix_settlement_region'), ['region'], unique=False)
    op.execute(
        "UPDATE settlement SET "
        "org_path = COALESCE((SELECT w.org_path FROM work_order w"
        " WHERE w.order_id = settlement.order_id), ''), "
        "region = COALESCE((SELECT w.region FROM work_order w"
        " WHERE w.order_id = settlement.order_id), '')"
    )


def downgrade() -> None:
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlement_region'))
        batch_op.drop_index(batch_op.f('ix_settlement_org_path'))
        batch_op.drop_column('region')
        batch_op.drop_column('org_path')
