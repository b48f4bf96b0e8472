"""uploads: who may read each uploaded file (upload_grant), with grants for the files
already referenced: a photo or signature in a step's data (its actor, the order's unit)
and a customer's signature (the order's unit), so that no file a manager could read
before becomes unreadable.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 15:00:00
"""

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

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
    _backfill(op.get_bind())


FILE_ID = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")


def _file_ids(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if FILE_ID.match(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _file_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _file_ids(item)


def _backfill(bind: Any) -> None:
    step = sa.table(
        "work_order_step",
        sa.column("order_id", sa.String()),
        sa.column("node_id", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("data", sa.JSON()),
    )
    order = sa.table("work_order", sa.column("order_id", sa.String()), sa.column("org_path"))
    user = sa.table("app_user", sa.column("id", sa.Integer()), sa.column("username"))
    survey = sa.table(
        "survey", sa.column("order_id"), sa.column("org_path"), sa.column("signature_file")
    )
    grant = sa.table(
        "upload_grant",
        sa.column("file_id", sa.String()),
        sa.column("uploaded_by", sa.Integer()),
        sa.column("order_id", sa.String()),
        sa.column("node_id", sa.String()),
        sa.column("org_path", sa.String()),
        sa.column("signoff_hash", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    users = {name: uid for uid, name in bind.execute(sa.select(user.c.id, user.c.username))}
    found: set[tuple[str, int | None, str, str, str]] = set()
    steps = bind.execute(
        sa.select(step.c.order_id, step.c.node_id, step.c.actor, step.c.data, order.c.org_path)
        .select_from(step.join(order, step.c.order_id == order.c.order_id))
        .execution_options(yield_per=1000)
    )
    for order_id, node_id, actor, data, org_path in steps:
        for file_id in _file_ids(data):
            found.add((file_id, users.get(actor), order_id, node_id, org_path or ""))
    signed = bind.execute(
        sa.select(survey.c.order_id, survey.c.org_path, survey.c.signature_file).where(
            survey.c.signature_file != ""
        )
    )
    for order_id, org_path, file_id in signed:
        if FILE_ID.match(file_id or ""):
            found.add((file_id, None, order_id, "signoff", org_path or ""))
    now = datetime.now(UTC)
    rows = [
        {
            "file_id": file_id,
            "uploaded_by": uploaded_by,
            "order_id": order_id,
            "node_id": node_id[:100],
            "org_path": org_path,
            "signoff_hash": "",
            "created_at": now,
        }
        for file_id, uploaded_by, order_id, node_id, org_path in sorted(
            found, key=lambda r: (r[2], r[3], r[0], r[1] or 0)
        )
    ]
    for start in range(0, len(rows), 1000):
        bind.execute(grant.insert(), rows[start : start + 1000])


def downgrade() -> None:
    op.drop_index(op.f("ix_upload_grant_signoff_hash"), table_name="upload_grant")
    op.drop_index(op.f("ix_upload_grant_file_id"), table_name="upload_grant")
    op.drop_table("upload_grant")
