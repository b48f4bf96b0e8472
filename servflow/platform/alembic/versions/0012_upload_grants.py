"""uploads: who may read each uploaded file (upload_grant).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("signoff_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_grant")),
    )
    op.create_index(op.f("ix_upload_grant_file_id"), "upload_grant", ["file_id"], unique=False)
    op.create_index(
        op.f("ix_upload_grant_signoff_hash"), "upload_grant", ["signoff_hash"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_upload_grant_signoff_hash"), table_name="upload_grant")
    op.drop_index(op.f("ix_upload_grant_file_id"), table_name="upload_grant")
    op.drop_table("upload_grant")
