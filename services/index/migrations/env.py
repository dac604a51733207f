from alembic import context

from services.index.models import Base
from vestry.common.db import run_migrations

run_migrations(context, Base.metadata)
