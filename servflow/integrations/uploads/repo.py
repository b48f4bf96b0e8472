"""Queries of the upload grants."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from servflow.integrations.uploads.models import UploadGrant


def grants_of(session: Session, *, file_id: str) -> list[UploadGrant]:
    return list(session.scalars(select(UploadGrant).where(UploadGrant.file_id == file_id)))


def signoff_grants(session: Session, *, signoff_hash: str) -> list[UploadGrant]:
    return list(
        session.scalars(
            select(UploadGrant)
            .where(UploadGrant.signoff_hash == signoff_hash)
            .order_by(UploadGrant.id)
        )
    )


def find_grant(
    session: Session,
    *,
    file_id: str,
    uploaded_by: int | None,
    order_id: str,
    node_id: str,
    signoff_hash: str,
) -> UploadGrant | None:
    by = (
        UploadGrant.uploaded_by.is_(None)
        if uploaded_by is None
        else UploadGrant.uploaded_by == uploaded_by
    )
    return session.scalar(
        select(UploadGrant).where(
            UploadGrant.file_id == file_id,
            by,
            UploadGrant.order_id == order_id,
            UploadGrant.node_id == node_id,
            UploadGrant.signoff_hash == signoff_hash,
        )
    )
