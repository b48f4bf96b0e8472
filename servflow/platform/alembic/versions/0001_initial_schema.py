"""Initial schema, generated from store.models and tidied.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 12:41:54.422186
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('activity_effect',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('activity', sa.String(length=64), nullable=False),
    sa.Column('result', JSON_TYPE, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_effect')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_activity_effect_idempotency_key'))
    )
    op.create_table('counter',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counter'))
    )
    op.create_table('customer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer')),
    sa.UniqueConstraint('phone', name=op.f('uq_customer_phone'))
    )
    op.create_table('definition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('draft', JSON_TYPE, nullable=False),
    sa.Column('layout', JSON_TYPE, nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_definition')),
    sa.UniqueConstraint('key', name=op.f('uq_definition_key'))
    )
    op.create_table('node_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('node_type', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('preset', JSON_TYPE, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_node_template')),
    sa.UniqueConstraint('key', name=op.f('uq_node_template_key'))
    )
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=200), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipients', JSON_TYPE, nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_notification_idempotency_key'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_order_id'), ['order_id'], unique=False)

    op.create_table('org_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('hq', 'region', 'branch', 'outlet')", name=op.f('ck_org_unit_kind')),
    sa.ForeignKeyConstraint(['parent_id'], ['org_unit.id'], name=op.f('fk_org_unit_parent_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_unit')),
    sa.UniqueConstraint('code', name=op.f('uq_org_unit_code')),
    sa.UniqueConstraint('path', name=op.f('uq_org_unit_path'))
    )
    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_unit_parent_id'), ['parent_id'], unique=False)

    op.create_table('part',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('price', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.CheckConstraint('price >= 0', name=op.f('ck_part_price_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_part')),
    sa.UniqueConstraint('sku', name=op.f('uq_part_sku'))
    )
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=100), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('roles', JSON_TYPE, nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_app_user_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_user_org_unit_id'), ['org_unit_id'], unique=False)

    op.create_table('customer_address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=400), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_address_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_address'))
    )
    with op.batch_alter_table('customer_address', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_address_customer_id'), ['customer_id'], unique=False)

    op.create_table('definition_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('body', JSON_TYPE, nullable=False),
    sa.Column('published_by', sa.String(length=100), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['definition.id'], name=op.f('fk_definition_version_definition_id_definition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_definition_version')),
    sa.UniqueConstraint('key', 'version', name=op.f('uq_definition_version_key_version'))
    )
    with op.batch_alter_table('definition_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_definition_version_definition_id'), ['definition_id'], unique=False)

    op.create_table('price_table',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('base_visit_fee', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('per_km_surcharge', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('free_km', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('base_visit_fee >= 0 AND per_km_surcharge >= 0 AND free_km >= 0', name=op.f('ck_price_table_non_negative')),
    sa.ForeignKeyConstraint(['region_id'], ['org_unit.id'], name=op.f('fk_price_table_region_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_table')),
    sa.UniqueConstraint('region_id', 'currency', 'valid_from', name=op.f('uq_price_table_region_id_currency_valid_from'))
    )
    op.create_table('warehouse',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['region_id'], ['org_unit.id'], name=op.f('fk_warehouse_region_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warehouse')),
    sa.UniqueConstraint('code', name=op.f('uq_warehouse_code'))
    )
    with op.batch_alter_table('warehouse', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warehouse_region_id'), ['region_id'], unique=False)

    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_api_key_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_key_key_hash'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_user_id'), ['user_id'], unique=False)

    op.create_table('engineer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('skills', JSON_TYPE, nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('current_load', sa.Integer(), nullable=False),
    sa.Column('max_load', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('available', 'busy', 'off')", name=op.f('ck_engineer_state')),
    sa.CheckConstraint('current_load >= 0', name=op.f('ck_engineer_current_load_non_negative')),
    sa.CheckConstraint('max_load >= 1', name=op.f('ck_engineer_max_load_positive')),
    sa.ForeignKeyConstraint(['outlet_id'], ['org_unit.id'], name=op.f('fk_engineer_outlet_id_org_unit')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_engineer_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engineer')),
    sa.UniqueConstraint('code', name=op.f('uq_engineer_code')),
    sa.UniqueConstraint('user_id', name=op.f('uq_engineer_user_id'))
    )
    with op.batch_alter_table('engineer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_engineer_outlet_id'), ['outlet_id'], unique=False)

    op.create_table('stock_level',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.CheckConstraint('on_hand >= 0', name=op.f('ck_stock_level_on_hand_non_negative')),
    sa.CheckConstraint('reserved <= on_hand', name=op.f('ck_stock_level_reserved_within_on_hand')),
    sa.CheckConstraint('reserved >= 0', name=op.f('ck_stock_level_reserved_non_negative')),
    sa.ForeignKeyConstraint(['part_id'], ['part.id'], name=op.f('fk_stock_level_part_id_part')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouse.id'], name=op.f('fk_stock_level_warehouse_id_warehouse')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_level')),
    sa.UniqueConstraint('warehouse_id', 'part_id', name=op.f('uq_stock_level_warehouse_id_part_id'))
    )
    with op.batch_alter_table('stock_level', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_level_part_id'), ['part_id'], unique=False)

    op.create_table('work_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=200), nullable=False),
    sa.Column('order_no', sa.String(length=32), nullable=True),
    sa.Column('definition_key', sa.String(length=100), nullable=False),
    sa.Column('definition_version', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=True),
    sa.Column('org_path', sa.String(length=400), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('fault', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('current_node', sa.String(length=64), nullable=False),
    sa.Column('current_engineer_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('started_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['current_engineer_id'], ['engineer.id'], name=op.f('fk_work_order_current_engineer_id_engineer')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_work_order_customer_id_customer')),
    sa.ForeignKeyConstraint(['outlet_id'], ['org_unit.id'], name=op.f('fk_work_order_outlet_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order')),
    sa.UniqueConstraint('order_id', name=op.f('uq_work_order_order_id')),
    sa.UniqueConstraint('order_no', name=op.f('uq_work_order_order_no'))
    )
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_current_engineer_id'), ['current_engineer_id'], unique=False)
        batch_op.create_index('ix_work_order_customer_fault', ['customer_id', 'fault'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_org_path'), ['org_path'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_outlet_id'), ['outlet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_status'), ['status'], unique=False)

    op.create_table('dispatch_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=200), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('visit', sa.Integer(), nullable=False),
    sa.Column('engineer_id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('strategy', sa.String(length=32), nullable=False),
    sa.Column('distance_km', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('candidates', JSON_TYPE, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['engineer_id'], ['engineer.id'], name=op.f('fk_dispatch_decision_engineer_id_engineer')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.order_id'], name=op.f('fk_dispatch_decision_order_id_work_order')),
    sa.ForeignKeyConstraint(['outlet_id'], ['org_unit.id'], name=op.f('fk_dispatch_decision_outlet_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_decision'))
    )
    with op.batch_alter_table('dispatch_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_decision_engineer_id'), ['engineer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dispatch_decision_order_id'), ['order_id'], unique=False)

    op.create_table('settlement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=200), nullable=False),
    sa.Column('milestone', sa.String(length=64), nullable=False),
    sa.Column('share', sa.Numeric(precision=7, scale=6), nullable=False),
    sa.Column('job_amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('breakdown', JSON_TYPE, nullable=False),
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount >= 0 AND job_amount >= 0', name=op.f('ck_settlement_amount_non_negative')),
    sa.CheckConstraint('share > 0 AND share <= 1', name=op.f('ck_settlement_share_range')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.order_id'], name=op.f('fk_settlement_order_id_work_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_settlement_idempotency_key'))
    )
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlement_order_id'), ['order_id'], unique=False)

    op.create_table('work_order_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=200), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('visit', sa.Integer(), nullable=False),
    sa.Column('node_type', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=64), nullable=False),
    sa.Column('data', JSON_TYPE, nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.order_id'], name=op.f('fk_work_order_step_order_id_work_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order_step')),
    sa.UniqueConstraint('order_id', 'node_id', 'visit', name=op.f('uq_work_order_step_order_id_node_id_visit'))
    )
    op.create_table('payout',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('payee_kind', sa.String(length=16), nullable=False),
    sa.Column('payee_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.CheckConstraint("payee_kind IN ('outlet', 'engineer', 'branch', 'hq')", name=op.f('ck_payout_payee_kind')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_payout_amount_non_negative')),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id'], name=op.f('fk_payout_settlement_id_settlement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout'))
    )
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_settlement_id'), ['settlement_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_settlement_id'))

    op.drop_table('payout')
    op.drop_table('work_order_step')
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlement_order_id'))

    op.drop_table('settlement')
    with op.batch_alter_table('dispatch_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatch_decision_order_id'))
        batch_op.drop_index(batch_op.f('ix_dispatch_decision_engineer_id'))

    op.drop_table('dispatch_decision')
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_status'))
        batch_op.drop_index(batch_op.f('ix_work_order_region'))
        batch_op.drop_index(batch_op.f('ix_work_order_outlet_id'))
        batch_op.drop_index(batch_op.f('ix_work_order_org_path'))
        batch_op.drop_index('ix_work_order_customer_fault')
        batch_op.drop_index(batch_op.f('ix_work_order_current_engineer_id'))

    op.drop_table('work_order')
    with op.batch_alter_table('stock_level', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_level_part_id'))

    op.drop_table('stock_level')
    with op.batch_alter_table('engineer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_engineer_outlet_id'))

    op.drop_table('engineer')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_user_id'))

    op.drop_table('api_key')
    with op.batch_alter_table('warehouse', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warehouse_region_id'))

    op.drop_table('warehouse')
    op.drop_table('price_table')
    with op.batch_alter_table('definition_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_definition_version_definition_id'))

    op.drop_table('definition_version')
    with op.batch_alter_table('customer_address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_address_customer_id'))

    op.drop_table('customer_address')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_user_org_unit_id'))

    op.drop_table('app_user')
    op.drop_table('part')
    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_unit_parent_id'))

    op.drop_table('org_unit')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_order_id'))

    op.drop_table('notification')
    op.drop_table('node_template')
    op.drop_table('definition')
    op.drop_table('customer')
    op.drop_table('counter')
    op.drop_table('activity_effect')
