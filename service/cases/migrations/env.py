"""Alembic environment of the case store; run through :func:`service.cases.db.migrate`.

The connection (or URL) comes from the config's attributes, so migrations run
on whatever database the service uses, SQLite or PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from service.cases.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table="case_store_version",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
