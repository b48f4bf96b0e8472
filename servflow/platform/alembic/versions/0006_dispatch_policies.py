"""dispatch policies: versioned policies, the skill catalogue, engineers' certificates,
shifts and leave, service areas (geofences), routing rules, and decisions that explain
themselves (rung, status, score parts) and may wait for a dispatcher (no engineer yet).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'skill',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('name_zh', sa.String(length=100), nullable=False),
        sa.Column('name_en', sa.String(length=100), nullable=False),
        sa.Column('levels', sa.Integer(), nullable=False),
        sa.Column('validity_days', sa.Integer(), nullable=True),
        sa.CheckConstraint('levels >= 1', name=op.f('ck_skill_levels_positive')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_skill')),
        sa.UniqueConstraint('code', name=op.f('uq_skill_code')),
    )
    op.create_table(
        'dispatch_policy',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('region', sa.String(length=64), nullable=False),
        sa.Column('pipeline', sa.String(length=64), nullable=False),
        sa.Column('body', JSON, nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_policy')),
        sa.UniqueConstraint('key', 'version', name=op.f('uq_dispatch_policy_key_version')),
    )
    op.create_index(op.f('ix_dispatch_policy_key'), 'dispatch_policy', ['key'])
    op.create_table(
        'service_area',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('outlet_id', sa.Integer(), nullable=False),
        sa.Column('geometry', JSON, nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['outlet_id'], ['org_unit.id'], name=op.f('fk_service_area_outlet_id_org_unit')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_area')),
        sa.UniqueConstraint('outlet_id', name=op.f('uq_service_area_outlet_id')),
    )
    op.create_table(
        'routing_rule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('service_type', sa.String(length=64), nullable=False),
        sa.Column('up_to_priority', sa.Integer(), nullable=False),
        sa.Column('queue', sa.String(length=32), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rule')),
    )
    op.create_index(op.f('ix_routing_rule_position'), 'routing_rule', ['position'])
    with op.batch_alter_table('engineer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certificates', JSON, nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('shift', JSON, nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('leaves', JSON, nullable=False, server_default='[]'))
        batch_op.add_column(
            sa.Column(
                'updated_at',
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text('CURRENT_TIMESTAMP'),
            )
        )
        batch_op.create_index(batch_op.f('ix_engineer_updated_at'), ['updated_at'], unique=False)
    with op.batch_alter_table('engineer', schema=None) as batch_op:
        for column in ('certificates', 'shift', 'leaves', 'updated_at'):
            batch_op.alter_column(column, server_default=None)
    with op.batch_alter_table('dispatch_decision', schema=None) as batch_op:
        batch_op.alter_column('engineer_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('outlet_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column('status', sa.String(length=16), nullable=False, server_default='assigned')
        )
        batch_op.add_column(
            sa.Column('rung', sa.String(length=64), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('policy_key', sa.String(length=64), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('policy_version', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.add_column(sa.Column('customer_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('fault', sa.String(length=64), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('explanation', JSON, nullable=False, server_default='{}'))
        batch_op.create_index(
            batch_op.f('ix_dispatch_decision_customer_id'), ['customer_id'], unique=False
        )
    with op.batch_alter_table('dispatch_decision', schema=None) as batch_op:
        for column in ('status', 'rung', 'policy_key', 'policy_version', 'fault', 'explanation'):
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('dispatch_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatch_decision_customer_id'))
        for column in (
            'explanation', 'fault', 'customer_id', 'policy_version', 'policy_key', 'rung', 'status'
        ):
            batch_op.drop_column(column)
        batch_op.alter_column('outlet_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('engineer_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('engineer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_engineer_updated_at'))
        for column in ('updated_at', 'leaves', 'shift', 'certificates'):
            batch_op.drop_column(column)
    op.drop_index(op.f('ix_routing_rule_position'), table_name='routing_rule')
    op.drop_table('routing_rule')
    op.drop_table('service_area')
    op.drop_index(op.f('ix_dispatch_policy_key'), table_name='dispatch_policy')
    op.drop_table('dispatch_policy')
    op.drop_table('skill')
