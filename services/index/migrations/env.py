from alembic import context

from vestry.common.db import run_migrations
from vestry.services.index.models import Base

run_migrations(context, Base.metadata)
