"""Connecting to the case store and bringing its schema up to date (Alembic).

The store shares the service's database: ``DATABASE_URL`` (PostgreSQL) or the
SQLite file in the state folder. :func:`migrate` runs the migrations in
``service/cases/migrations`` up to the newest; the service and the CLI call
it before touching the store, so a fresh database needs no manual step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker

from service.database import make_engine, normalise_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(engine: sa.Engine) -> None:
    """Create or upgrade the case store's tables to the newest migration (idempotent)."""
    cfg = alembic_config(str(engine.url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class CaseStore:
    """The case store: an engine, migrated on creation, and a session factory.

    Parameters
    ----------
    url
        SQLAlchemy URL (``sqlite:///…`` or ``postgresql://…``).
    engine
        An engine to share (the scoring log's), instead of making one from ``url``.
    """

    def __init__(self, url: str | None = None, *, engine: sa.Engine | None = None) -> None:
        if engine is None:
            if not url:
                raise ValueError("CaseStore needs a database URL or an engine")
            engine = make_engine(url)
        self.engine = engine
        migrate(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as s:
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
