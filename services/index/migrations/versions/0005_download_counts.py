"""download counts per file

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "download_counts",
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("filename"),
    )
    op.create_index("ix_download_counts_project_id", "download_counts", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_download_counts_project_id", table_name="download_counts")
    op.drop_table("download_counts")
