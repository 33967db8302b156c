"""The durable log: every scored dossier, written before its answer goes out.

On restart the online history is the data folder plus this log, so nothing
the portal got an answer for is lost. SQLite by default, PostgreSQL when
``DATABASE_URL`` points at one (SQLAlchemy Core, the same statements on both).

What is kept is what a purpose needs (Decree 13/2023, least data):

- ``dossier``: the *replay record*, what rebuilding the history needs (the
  counters' event: account, device, IP, unit, procedure, the flags, and the
  owner ID, phone and payment token as keyed pseudonyms; no name, no e-mail);
- ``answer``: the answer sent (scores, reasons with feature values, no
  personal value), so a repeated dossier gets the same answer;
- ``case_fields``: only for a flagged dossier, its submission fields in clear
  (owner ID, phone, payment token; still no name or e-mail), which the case
  feeder copies into the case a reviewer reads, and under :data:`EVIDENCE`
  its evidence subgraph drawn at scoring time (personal values
  pseudonymised); the feeder then empties it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.database import make_engine as _make_engine

log = logging.getLogger(__name__)

metadata = sa.MetaData()
#: the key of ``case_fields`` that holds the evidence (``{"graph", "related"}``), not a field
EVIDENCE = "_evidence"

scoring_log = sa.Table(
    "scoring_log",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("dossier_id", sa.String(128), nullable=False, unique=True),
    sa.Column("submitted_at", sa.BigInteger, nullable=False),  # epoch seconds
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("in_history", sa.Boolean, nullable=False),  # already in the data folder
    sa.Column("dossier", sa.Text, nullable=False),  # the replay record (JSON), pseudonymised
    sa.Column("answer", sa.Text, nullable=False),  # the answer sent (JSON)
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("case_fields", sa.Text, nullable=True),  # flagged only, until it is a case
)


def log_engine(url: str) -> Engine:
    """The service database's engine as the log needs it: WAL checkpoints in its own thread."""
    return _make_engine(url, background_checkpoints=True)


class ScoringLog:
    """Append-only record of scored dossiers, unique by ``dossier_id``.

    Parameters
    ----------
    engine : SQLAlchemy engine (see :func:`log_engine`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, tables=[scoring_log])
        _add_case_fields(engine)
        self._raw: Any = None
        self._lock = threading.Lock()
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        names = [c.name for c in scoring_log.columns if c.name != "seq"]
        self._sql = f"INSERT INTO scoring_log ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
        self._sqlite = engine.dialect.name == "sqlite"
        if self._sqlite:
            threading.Thread(target=self._checkpoints, daemon=True, name="wal-checkpoint").start()

    def _checkpoints(self, every: float = 5.0) -> None:
        """Fold SQLite's write-ahead log into the database every few seconds, off the hot path."""
        while True:
            time.sleep(every)
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:  # the next round tries again; answers are unaffected
                log.warning("WAL checkpoint failed: %s", type(exc).__name__)

    def record(
        self,
        dossier_id: str,
        submitted_at: int,
        in_history: bool,
        dossier: dict[str, Any],
        answer: dict[str, Any],
        model_version: str,
        case_fields: dict[str, Any] | None = None,
    ) -> bool:
        """Write one scored dossier and commit; False when it was already there (a repeat).

        ``dossier`` is the replay record; ``case_fields`` the clear fields of a
        flagged dossier (None otherwise).

        Notes
        -----
        On the scoring path: one plain INSERT on a connection kept open, through
        the DBAPI driver (SQLAlchemy's statement machinery costs more than the
        insert itself). A failed connection is dropped and reopened next time.
        """
        now = datetime.now(UTC)
        params = (
            dossier_id,
            submitted_at,
            now.replace(tzinfo=None).isoformat(sep=" ") if self._sqlite else now,
            in_history,
            orjson.dumps(dossier).decode(),
            orjson.dumps(answer).decode(),
            model_version,
            None if case_fields is None else orjson.dumps(case_fields).decode(),
        )
        with self._lock:
            if self._raw is None:
                self._raw = self.engine.raw_connection()
            conn = self._raw
            try:
                cur = conn.cursor()
                cur.execute(self._sql, params)
                conn.commit()
            except self.engine.dialect.dbapi.IntegrityError:  # type: ignore[union-attr]
                conn.rollback()
                return False
            except Exception:
                self._raw = None
                with contextlib.suppress(Exception):  # the connection is gone either way
                    conn.invalidate()
                raise
        return True

    def answer(self, dossier_id: str) -> dict[str, Any] | None:
        """The answer recorded for a dossier, or None."""
        with self.engine.connect() as conn:
            text = conn.execute(
                sa.select(scoring_log.c.answer).where(scoring_log.c.dossier_id == dossier_id)
            ).scalar_one_or_none()
        return json.loads(text) if text is not None else None

    def count(self) -> int:
        """How many dossiers the log holds."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(scoring_log)).scalar_one()
            )

    def last_seq(self) -> int:
        """The sequence number of the latest entry (0 when empty)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(scoring_log.c.seq))).scalar() or 0)

    def entries(self, after: int = 0, batch: int = 5000) -> Iterator[tuple[int, dict[str, Any]]]:
        """(seq, replay record) of every entry after ``after``, in log order, not in history."""
        last = after
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(scoring_log.c.seq, scoring_log.c.dossier)
                    .where(scoring_log.c.seq > last, scoring_log.c.in_history.is_(False))
                    .order_by(scoring_log.c.seq)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for seq, text in rows:
                yield int(str(seq)), json.loads(str(text))
            last = int(rows[-1][0])


def _add_case_fields(engine: Engine) -> None:
    """Give a log made by an earlier version its ``case_fields`` column (nullable, so no rewrite)."""
    columns = {c["name"] for c in sa.inspect(engine).get_columns("scoring_log")}
    if "case_fields" not in columns:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE scoring_log ADD COLUMN case_fields TEXT")
