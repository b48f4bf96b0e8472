"""Trust: logout and refresh tokens, password changes, held settlements, test runs apart,
and step outcomes long enough for a failure's message.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'revoked_token',
        sa.Column('jti', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_token')),
    )
    op.create_index(op.f('ix_revoked_token_expires_at'), 'revoked_token', ['expires_at'])
    op.create_table(
        'refresh_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['app_user.id'], name=op.f('fk_refresh_token_user_id_app_user')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_token')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_refresh_token_token_hash')),
    )
    op.create_index(op.f('ix_refresh_token_user_id'), 'refresh_token', ['user_id'])
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('status', sa.String(length=16), nullable=False, server_default='paid')
        )
        batch_op.add_column(
            sa.Column('approved_by', sa.String(length=100), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('sandbox', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(batch_op.f('ix_work_order_sandbox'), ['sandbox'], unique=False)
    with op.batch_alter_table('work_order_step', schema=None) as batch_op:
        batch_op.alter_column(
            'outcome', existing_type=sa.String(length=64), type_=sa.String(length=500)
        )


def downgrade() -> None:
    with op.batch_alter_table('work_order_step', schema=None) as batch_op:
        batch_op.alter_column(
            'outcome', existing_type=sa.String(length=500), type_=sa.String(length=64)
        )
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_sandbox'))
        batch_op.drop_column('sandbox')
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.drop_column('approved_at')
        batch_op.drop_column('approved_by')
        batch_op.drop_column('status')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('password_changed_at')
    op.drop_index(op.f('ix_refresh_token_user_id'), table_name='refresh_token')
    op.drop_table('refresh_token')
    op.drop_index(op.f('ix_revoked_token_expires_at'), table_name='revoked_token')
    op.drop_table('revoked_token')
