"""member names; events by project, newest first; files page in one index range

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organization_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("username", sa.String(length=100), nullable=False, server_default="")
        )
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("username", sa.String(length=100), nullable=False, server_default="")
        )
    with op.batch_alter_table("index_events", schema=None) as batch_op:
        batch_op.drop_index("ix_index_events_project_id")
        batch_op.create_index("ix_index_events_project_newest", ["project_id", "id"], unique=False)
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_project")
        batch_op.create_index("ix_files_project_filename", ["project_id", "filename"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_project_filename")
        batch_op.create_index("ix_files_project", ["project_id"], unique=False)
    with op.batch_alter_table("index_events", schema=None) as batch_op:
        batch_op.drop_index("ix_index_events_project_newest")
        batch_op.create_index("ix_index_events_project_id", ["project_id"], unique=False)
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_column("username")
    with op.batch_alter_table("organization_members", schema=None) as batch_op:
        batch_op.drop_column("username")
