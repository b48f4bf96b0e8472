"""inventory journal: warehouse kinds and lead times, the catalogue's English names, units,
costs and compatibility, safety levels, the append-only stock movement journal,
reservations, transfers and replenishment alerts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('warehouse', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=16), nullable=False, server_default='regional')
        )
        batch_op.add_column(
            sa.Column('engineer_code', sa.String(length=64), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('lead_time_hours', sa.Integer(), nullable=False, server_default='24')
        )
    with op.batch_alter_table('part', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('name_en', sa.String(length=200), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('unit', sa.String(length=16), nullable=False, server_default='pcs')
        )
        batch_op.add_column(
            sa.Column('cost', sa.Numeric(precision=18, scale=2), nullable=False, server_default='0')
        )
        batch_op.add_column(
            sa.Column('compatible_products', JSON, nullable=False, server_default='[]')
        )
        batch_op.add_column(sa.Column('fault_types', JSON, nullable=False, server_default='[]'))
        batch_op.create_check_constraint(op.f('ck_part_cost_non_negative'), 'cost >= 0')
    with op.batch_alter_table('stock_level', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('safety_level', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.add_column(
            sa.Column('reorder_point', sa.Integer(), nullable=False, server_default='0')
        )
    op.create_table(
        'stock_movement',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('warehouse_id', sa.Integer(), nullable=False),
        sa.Column('part_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('qty', sa.Integer(), nullable=False),
        sa.Column('on_hand_delta', sa.Integer(), nullable=False),
        sa.Column('reserved_delta', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('ref', sa.String(length=200), nullable=False),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['part_id'], ['part.id'], name=op.f('fk_stock_movement_part_id_part')
        ),
        sa.ForeignKeyConstraint(
            ['warehouse_id'], ['warehouse.id'], name=op.f('fk_stock_movement_warehouse_id_warehouse')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_movement')),
        sa.UniqueConstraint('key', name=op.f('uq_stock_movement_key')),
    )
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.create_index('ix_stock_movement_pair', ['warehouse_id', 'part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movement_ref'), ['ref'], unique=False)
    op.create_table(
        'stock_reservation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('order_id', sa.String(length=100), nullable=False),
        sa.Column('warehouse_id', sa.Integer(), nullable=False),
        sa.Column('part_id', sa.Integer(), nullable=False),
        sa.Column('qty', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['part_id'], ['part.id'], name=op.f('fk_stock_reservation_part_id_part')
        ),
        sa.ForeignKeyConstraint(
            ['warehouse_id'],
            ['warehouse.id'],
            name=op.f('fk_stock_reservation_warehouse_id_warehouse'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_reservation')),
        sa.UniqueConstraint('key', name=op.f('uq_stock_reservation_key')),
    )
    with op.batch_alter_table('stock_reservation', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_stock_reservation_order_id'), ['order_id'], unique=False
        )
    op.create_table(
        'stock_transfer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=100), nullable=False),
        sa.Column('order_id', sa.String(length=100), nullable=False),
        sa.Column('line_key', sa.String(length=200), nullable=False),
        sa.Column('part_id', sa.Integer(), nullable=False),
        sa.Column('qty', sa.Integer(), nullable=False),
        sa.Column('source_id', sa.Integer(), nullable=False),
        sa.Column('destination_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('carrier', sa.String(length=64), nullable=False),
        sa.Column('tracking_no', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['destination_id'],
            ['warehouse.id'],
            name=op.f('fk_stock_transfer_destination_id_warehouse'),
        ),
        sa.ForeignKeyConstraint(
            ['part_id'], ['part.id'], name=op.f('fk_stock_transfer_part_id_part')
        ),
        sa.ForeignKeyConstraint(
            ['source_id'], ['warehouse.id'], name=op.f('fk_stock_transfer_source_id_warehouse')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_transfer')),
        sa.UniqueConstraint('code', name=op.f('uq_stock_transfer_code')),
    )
    with op.batch_alter_table('stock_transfer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_transfer_order_id'), ['order_id'], unique=False)
    op.create_table(
        'stock_alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('warehouse_id', sa.Integer(), nullable=False),
        sa.Column('part_id', sa.Integer(), nullable=False),
        sa.Column('open_pair', sa.String(length=40), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('available', sa.Integer(), nullable=False),
        sa.Column('safety_level', sa.Integer(), nullable=False),
        sa.Column('suggestion', JSON, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('acknowledged_by', sa.String(length=100), nullable=False),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['part_id'], ['part.id'], name=op.f('fk_stock_alert_part_id_part')
        ),
        sa.ForeignKeyConstraint(
            ['warehouse_id'], ['warehouse.id'], name=op.f('fk_stock_alert_warehouse_id_warehouse')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_alert')),
        sa.UniqueConstraint('open_pair', name=op.f('uq_stock_alert_open_pair')),
    )


def downgrade() -> None:
    op.drop_table('stock_alert')
    with op.batch_alter_table('stock_transfer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_transfer_order_id'))
    op.drop_table('stock_transfer')
    with op.batch_alter_table('stock_reservation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_reservation_order_id'))
    op.drop_table('stock_reservation')
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_movement_ref'))
        batch_op.drop_index('ix_stock_movement_pair')
    op.drop_table('stock_movement')
    with op.batch_alter_table('stock_level', schema=None) as batch_op:
        batch_op.drop_column('reorder_point')
        batch_op.drop_column('safety_level')
    with op.batch_alter_table('part', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_part_cost_non_negative'), type_='check')
        batch_op.drop_column('fault_types')
        batch_op.drop_column('compatible_products')
        batch_op.drop_column('cost')
        batch_op.drop_column('unit')
        batch_op.drop_column('name_en')
    with op.batch_alter_table('warehouse', schema=None) as batch_op:
        batch_op.drop_column('lead_time_hours')
        batch_op.drop_column('engineer_code')
        batch_op.drop_column('kind')
