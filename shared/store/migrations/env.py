"""Alembic's entry: migrations run on the connection `shared.store.db.migrate` hands
over, which holds the lock that keeps the API and the worker from migrating at once."""

from alembic import context
from sqlmodel import SQLModel

import shared.store.db  # noqa: F401  (the tables, on SQLModel.metadata)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite alters a table by copying it.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
