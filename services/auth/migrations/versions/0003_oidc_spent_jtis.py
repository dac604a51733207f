"""oidc_spent_jtis: each trusted-publishing OIDC token is exchanged once

Revision ID: 0003_oidc_spent_jtis
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_oidc_spent_jtis"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_spent_jtis",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oidc_spent_jtis_expires", "oidc_spent_jtis", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_oidc_spent_jtis_expires", table_name="oidc_spent_jtis")
    op.drop_table("oidc_spent_jtis")
