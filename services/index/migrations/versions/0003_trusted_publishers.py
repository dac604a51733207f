"""trusted_publishers: the CI jobs (OIDC) that may publish a project

Revision ID: 0003_trusted_publishers
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_trusted_publishers"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trusted_publishers",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "project_id",
            sa.String(length=36),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("issuer", sa.String(length=50), nullable=False),
        sa.Column("lookup", sa.String(length=300), nullable=False),
        sa.Column("claims", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_trusted_publishers_project_id", "trusted_publishers", ["project_id"])
    op.create_index("ix_trusted_publishers_lookup", "trusted_publishers", ["lookup"])


def downgrade() -> None:
    op.drop_index("ix_trusted_publishers_lookup", table_name="trusted_publishers")
    op.drop_index("ix_trusted_publishers_project_id", table_name="trusted_publishers")
    op.drop_table("trusted_publishers")
