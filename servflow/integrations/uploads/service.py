"""Who may read an uploaded file, and the grants that say so.

A file is readable by its uploader, by whoever may see the order it was attached to (the
order desk's own rule, `orders.may_see`: HQ, the order's region and outlet; an engineer
only the orders dispatched to them), and by the holder of a sign-off link for that
sign-off's files until the link expires. Anyone else is told the file does not exist.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.orm import Session

from servflow.integrations.uploads import repo
from servflow.integrations.uploads.models import UploadGrant
from servflow.orders import service as orders
from servflow.org import service as org
from servflow.org.rules import Principal
from servflow.platform.errors import NotFound


def token_hash(token: str) -> str:
    """The hash a sign-off link is kept under (servflow.customers keeps the same)."""
    return hashlib.sha256(token[:100].encode()).hexdigest()


def not_found(file_id: str) -> NotFound:
    """The one answer for a missing file and a file the caller may not read."""
    return NotFound(f"no file {file_id}")


def order_path_for(session: Session, user: Principal, *, order_id: str) -> str | None:
    """The org path of `order_id` when `user` may see it in the read model, else None
    (the caller may then ask the order itself)."""
    row = orders.get_order(session, order_id=order_id)
    if row is None or not orders.may_see(session, user, row=row, state=None):
        return None
    return row.org_path


def context_path(session: Session, *, region: str, outlet: str) -> str:
    """The unit of an order known only from its live state."""
    return str(org.path_of_context(session, region=region, outlet=outlet))


def grant(
    session: Session,
    *,
    file_id: str,
    uploaded_by: int | None,
    now: datetime,
    order_id: str = "",
    node_id: str = "",
    org_path: str = "",
    signoff_hash: str = "",
    expires_at: datetime | None = None,
) -> UploadGrant:
    """Records one upload (the same upload again is the same grant)."""
    found = repo.find_grant(
        session,
        file_id=file_id,
        uploaded_by=uploaded_by,
        order_id=order_id,
        node_id=node_id,
        signoff_hash=signoff_hash,
    )
    if found is not None:
        return found
    row = UploadGrant(
        file_id=file_id,
        uploaded_by=uploaded_by,
        order_id=order_id,
        node_id=node_id,
        org_path=org_path,
        signoff_hash=signoff_hash,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _sees_order(session: Session, user: Principal, row: UploadGrant) -> bool:
    if not row.order_id:
        return False
    order = orders.get_order(session, order_id=row.order_id)
    if order is not None:
        return orders.may_see(session, user, row=order, state=None)
    # The order's row is gone or not written yet: its unit, as recorded at upload.
    return bool(row.org_path) and not user.engineer_only and user.sees(row.org_path)


def check_readable(session: Session, user: Principal, *, file_id: str) -> None:
    """NotFound unless one of the file's grants admits `user`."""
    grants = repo.grants_of(session, file_id=file_id)
    if any(g.uploaded_by == user.id for g in grants):
        return
    seen: set[str] = set()
    for row in grants:
        if row.order_id in seen:
            continue
        seen.add(row.order_id)
        if _sees_order(session, user, row):
            return
    raise not_found(file_id)


def signoff_files(session: Session, *, token: str, now: datetime) -> list[str]:
    """The files of the sign-off whose link is `token`, while the link lasts."""
    return [
        g.file_id
        for g in repo.signoff_grants(session, signoff_hash=token_hash(token))
        if g.expires_at is not None and g.expires_at > now
    ]


def check_signoff_readable(session: Session, *, token: str, file_id: str, now: datetime) -> None:
    """NotFound unless `file_id` belongs to the sign-off of `token` (not expired)."""
    if file_id not in signoff_files(session, token=token, now=now):
        raise not_found(file_id)
