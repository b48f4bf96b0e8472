"""The org tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from servflow.platform.base import Base, JSONType, utcnow


class OrgUnit(Base):
    """A node of the org tree HQ → region → branch → outlet.

    `path` ("/hq/huabei/bj-branch/bj-001") makes scope checks a prefix match.
    """

    __tablename__ = "org_unit"
    __table_args__ = (CheckConstraint("kind IN ('hq', 'region', 'branch', 'outlet')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), unique=True)
    city: Mapped[str] = mapped_column(String(100), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])


class AppUser(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Tokens issued before this moment (a password reset, a disable) are no longer valid.
    password_changed_at: Mapped[datetime | None] = mapped_column()

    org_unit: Mapped[OrgUnit | None] = relationship()


class ApiKey(Base):
    """An API client's key; only its SHA-256 is stored (keys are long random tokens)."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[AppUser] = relationship()


class RevokedToken(Base):
    """An access token logged out before its expiry (by its `jti`), kept until it expires."""

    __tablename__ = "revoked_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RefreshToken(Base):
    """A refresh token; only its SHA-256 is stored. Using one revokes it (rotation)."""

    __tablename__ = "refresh_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
