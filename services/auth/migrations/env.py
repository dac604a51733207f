from alembic import context

from services.auth.models import Base
from vestry.common.db import run_migrations

run_migrations(context, Base.metadata)
