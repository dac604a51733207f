from alembic import context

from vestry.common.db import run_migrations
from vestry.services.auth.models import Base

run_migrations(context, Base.metadata)
