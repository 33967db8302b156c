"""One engine factory for the service's database (the scoring log and the case store share it).

``DATABASE_URL`` (PostgreSQL) or the SQLite file in the state folder. Both
the durable scoring log (:mod:`service.log`) and the case store
(:mod:`service.cases.db`) open it through :func:`make_engine`, so the same
file is never opened with two sets of SQLite settings.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["make_engine", "normalise_url"]


def normalise_url(url: str) -> str:
    """``postgresql://`` means the psycopg 3 driver here (the one installed)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, *, background_checkpoints: bool = False) -> sa.Engine:
    """An engine for the service's database.

    SQLite runs in WAL mode (readers never block the writer) with
    ``synchronous=NORMAL`` (a commit survives the process being killed, the
    case the API must survive; only a power cut can lose the last commits:
    set ``synchronous=FULL`` on hardware without a UPS, at about one fsync
    per answer), waits up to 10 s on a busy writer instead of failing, and
    checks foreign keys. ``background_checkpoints``: the caller runs WAL
    checkpoints in a thread of its own (the scoring log), so none runs inside
    an answer's commit.
    """
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        if background_checkpoints:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    return engine
