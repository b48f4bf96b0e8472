"""definition_version.layout: the designer's node positions, kept with each version.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('definition_version', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('layout', JSON_TYPE, nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table('definition_version', schema=None) as batch_op:
        batch_op.drop_column('layout')
