"""users.name_key: one user per name, whatever its case or separators

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _key(name: str) -> str:
    # Frozen copy of services.auth.service.user_name_key: a migration must not change with the code.
    return re.sub(r"[-_.]+", "-", name).lower()


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=100), nullable=True))
    users = sa.table(
        "users",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
    )
    conn = op.get_bind()
    for user_id, name in conn.execute(sa.select(users.c.id, users.c.name)).all():
        conn.execute(users.update().where(users.c.id == user_id).values(name_key=_key(name)))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("name_key", existing_type=sa.String(length=100), nullable=False)
        batch_op.create_unique_constraint("uq_users_name_key", ["name_key"])


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_name_key", type_="unique")
        batch_op.drop_column("name_key")
