"""The upload grants: who may read which file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from servflow.platform.base import Base, utcnow


class UploadGrant(Base):
    """One upload of a file: by whom, for which order/step or sign-off.

    Files are named by their content's hash, so the same bytes uploaded twice (an offline
    retry, or two people) are one file with several grants; a reader needs one grant that
    admits them. `order_id` empty: only the uploader. `signoff_hash`: the sign-off link's
    token hash (its holder reads this file until `expires_at`).
    """

    __tablename__ = "upload_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by: Mapped[int | None] = mapped_column()
    """The uploader's user id (none for the customer's sign-off)."""
    order_id: Mapped[str] = mapped_column(String(200), default="")
    node_id: Mapped[str] = mapped_column(String(100), default="")
    org_path: Mapped[str] = mapped_column(String(400), default="")
    """The order's unit when attached (read when the order's row is not there)."""
    signoff_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
