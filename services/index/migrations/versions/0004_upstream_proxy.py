"""upstream proxy: tombstones, cached upstream files and pages, per-project rules

Revision ID: 0004
Revises: 0003_trusted_publishers
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003_trusted_publishers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_tombstones",
        sa.Column("normalized_name", sa.String(length=200), primary_key=True),
        sa.Column("deleted", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "upstream_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("normalized_name", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("is_metadata", sa.Boolean(), nullable=False),
        sa.Column("blob_key", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("upstream_url", sa.String(length=2000), nullable=False),
        sa.Column("fetched", sa.DateTime(timezone=True), nullable=False),
        sa.Column("upload_time", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("filename", "is_metadata"),
    )
    op.create_index("ix_upstream_files_normalized_name", "upstream_files", ["normalized_name"])
    op.create_table(
        "upstream_pages",
        sa.Column("normalized_name", sa.String(length=200), primary_key=True),
        sa.Column("upstream_url", sa.String(length=2000), nullable=False),
        sa.Column("blob_key", sa.String(length=128), nullable=False),
        sa.Column("fetched", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "upstream_rules",
        sa.Column("normalized_name", sa.String(length=200), primary_key=True),
        sa.Column("rule", sa.String(length=20), primary_key=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("upstream_rules")
    op.drop_table("upstream_pages")
    op.drop_index("ix_upstream_files_normalized_name", table_name="upstream_files")
    op.drop_table("upstream_files")
    op.drop_table("upstream_tombstones")
