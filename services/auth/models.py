"""The auth service's tables: users and root tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The name folded for comparison (case, and runs of '.', '_', '-'): "Alice" and "alice" or
    # "j.smith" and "j_smith" are one user. Unique, so two concurrent creations cannot both win.
    name_key: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("name_key", name="uq_users_name_key"),)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Token(Base):
    """One row per root token. Deleting it revokes the token and everything attenuated from it."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # Each root token has its own random key: one leaked key compromises one token.
    key: Mapped[bytes] = mapped_column(LargeBinary(32))
    caveats: Mapped[str] = mapped_column(Text, default="[]")  # JSON list, as minted
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Event(Base):
    """Audit trail: mint, revoke, user changes, bursts of failed verifications."""

    __tablename__ = "auth_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    token_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
