"""The index's tables for the upstream proxy (docs/proxy.md), beside the local ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vestry.services.index.models import Base

__all__ = ["Tombstone", "UpstreamFile", "UpstreamPage", "UpstreamRule"]


class Tombstone(Base):
    """A local project that was deleted: its name is never served from an upstream again."""

    __tablename__ = "upstream_tombstones"

    normalized_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    deleted: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UpstreamFile(Base):
    """A file (or its PEP 658 metadata) fetched from an upstream, verified and kept."""

    __tablename__ = "upstream_files"
    __table_args__ = (UniqueConstraint("filename", "is_metadata"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    normalized_name: Mapped[str] = mapped_column(String(200), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    is_metadata: Mapped[bool] = mapped_column(Boolean, default=False)
    blob_key: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    upstream_url: Mapped[str] = mapped_column(String(2000))
    fetched: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    upload_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class UpstreamPage(Base):
    """The last page an upstream gave for a name, as a blob: served while the upstream is down."""

    __tablename__ = "upstream_pages"

    normalized_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    upstream_url: Mapped[str] = mapped_column(String(2000))
    blob_key: Mapped[str] = mapped_column(String(128))
    fetched: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UpstreamRule(Base):
    """A per-project exception: `exempt` from the cooldown, or `merge` upstream versions into a
    local project."""

    __tablename__ = "upstream_rules"

    normalized_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    rule: Mapped[str] = mapped_column(String(20), primary_key=True)
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100), default="")
