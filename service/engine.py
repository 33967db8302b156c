"""The scoring engine behind the routes: online scorer, live store and durable log together.

One dossier's path (:meth:`Engine.score`): score it against the history
(read-only), write it and its answer to the durable log and commit, add it to
the live history, answer. A dossier already in the log gets its recorded
answer back and is not counted again. A flagged dossier's log entry also
carries its evidence subgraph, drawn from the online state as the batch draws
a case's (:meth:`Engine._case_fields`), for the case feeder. Anything that
goes wrong inside scoring answers ``status: unscored`` so the portal
proceeds; the failure is counted and logged without personal data.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import time
import traceback
from pathlib import Path
from typing import Any

from detector.online import (
    OnlineScorer,
    Scored,
    Unscorable,
    answer_json,
    dossier_record,
    epoch_seconds,
    replay_record,
)
from features import pseudonymiser
from features.history import LiveStore
from features.stores import MemoryStore, RedisStore
from service import metrics
from service.cases._evidence import MAX_RELATED, case_evidence
from service.cases._private import evidence_pseudonymiser
from service.log import EVIDENCE, ScoringLog, log_engine
from service.schemas import ScoreOut
from service.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["Engine", "Unscorable", "data_fingerprint"]


def data_fingerprint(data_dir: Path) -> str:
    """A short digest of the data folder's contents (names, sizes and the dossiers' bytes).

    Workers and hosts reading the same folder get the same digest, so they
    share one Redis namespace; a refreshed folder gets a new one.
    """
    h = hashlib.sha256()
    for path in sorted(p for p in data_dir.iterdir() if p.is_file()):
        h.update(f"{path.name}:{path.stat().st_size};".encode())
        if path.stem == "dossiers":
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
    return h.hexdigest()[:16]


class Engine:
    """Loads and holds everything a request needs; swaps it whole on reload.

    Parameters
    ----------
    settings : the service settings (data and model folders must be set).
    """

    def __init__(self, settings: Settings) -> None:
        if settings.data_dir is None or settings.model_dir is None:
            raise ValueError("the data folder and the model folder must be given")
        self.settings = settings
        self.model_dir = Path(settings.model_dir)
        self.log_store = ScoringLog(log_engine(settings.database()))
        self.scorer: OnlineScorer | None = None
        self._store_name = settings.store
        self._redis: Any = None
        #: reloads announced to every worker through Redis (see :meth:`reload_wanted`)
        self.generation = 0
        self.reloads = 0
        self._pseudonymise_evidence = evidence_pseudonymiser(settings.secret())

    # ------------------------------------------------------------------ loading
    def _live_store(self, data_dir: Path) -> LiveStore:
        if self.settings.store == "memory":
            return MemoryStore()
        import redis

        if self._redis is None:
            self._redis = redis.Redis.from_url(self.settings.redis_url, socket_timeout=5)
            self._redis.ping()
        return RedisStore(
            self._redis,
            f"{self.settings.redis_prefix}:{data_fingerprint(data_dir)}",
            self.settings.secret(),
        )

    def _build(self, model_dir: Path, keep: OnlineScorer | None = None) -> tuple[OnlineScorer, int]:
        data_dir = Path(self.settings.data_dir)  # type: ignore[arg-type]
        scorer = OnlineScorer(
            data_dir,
            model_dir,
            self._live_store(data_dir),
            model_from=keep,
            pseudonymise=pseudonymiser(self.settings.secret()),
        )
        last = self._replay(scorer, 0)
        return scorer, last

    def _replay(self, scorer: OnlineScorer, after: int) -> int:
        """Add the log's dossiers after ``after`` to the scorer's live history; the last seq."""
        last = after
        for seq, record in self.log_store.entries(after):
            try:
                scorer.replay(record)
            except Exception as exc:  # one bad entry must not stop a restart
                log.warning(
                    "log entry %d could not be replayed (%s); skipped", seq, type(exc).__name__
                )
            last = seq
        return last

    def start(self) -> None:
        """Load the model, the data folder and the log (blocking; call once at start-up)."""
        started = time.perf_counter()
        self.scorer, last = self._build(self.model_dir)
        _freeze()
        if self._redis is not None:  # reloads announced before we started are already done
            self.generation = int(self._redis.hget(self._reload_key, "generation") or 0)
        self._publish_sizes()
        log.info(
            "engine ready in %.1f s (log replayed up to entry %d)",
            time.perf_counter() - started,
            last,
        )

    def prepare_reload(self, model: bool) -> tuple[OnlineScorer, int, float]:
        """Build the new engine aside (blocking; run it in a thread while requests go on).

        Returns the new scorer, the last log entry it holds and when the reload began.
        """
        started = time.perf_counter()
        if not model:  # the data only: keep the model in use, even if its folder changed
            scorer, last = self._build(self.model_dir, keep=self.scorer)
        else:
            scorer, last = self._build(self.model_dir)
        return scorer, last, started

    def finish_reload(self, scorer: OnlineScorer, last: int, started: float) -> dict[str, Any]:
        """Catch the new history up with the log, then swap (call it on the event loop).

        Requests are served on the same loop, so no dossier is logged between
        the catch-up and the swap: none is missed.
        """
        self._replay(scorer, last)
        self.scorer, self.model_dir = scorer, Path(scorer.model_dir)
        self.reloads += 1
        _freeze()
        self._publish_sizes()
        return {
            "status": "reloaded",
            "model_version": scorer.model_version,
            "history_dossiers": scorer.history_size,
            "live_dossiers": scorer.live.size(),
            "seconds": round(time.perf_counter() - started, 3),
        }

    # ------------------------------------------------------------------ several workers
    @property
    def _reload_key(self) -> str:
        return f"{self.settings.redis_prefix}:reload"

    def announce_reload(self, model: bool) -> None:
        """Tell the other workers (and hosts) sharing the Redis history to reload too."""
        if self._redis is None:
            return
        pipe = self._redis.pipeline(transaction=True)
        pipe.hincrby(self._reload_key, "generation", 1)
        pipe.hset(self._reload_key, "model", int(model))
        self.generation = int(pipe.execute()[0])

    def reload_wanted(self) -> bool | None:
        """None when no reload was announced since ours; else whether the model is to reload too."""
        if self._redis is None:
            return None
        state = self._redis.hgetall(self._reload_key)
        generation = int(state.get(b"generation", 0))
        if generation <= self.generation:
            return None
        self.generation = generation
        return state.get(b"model") == b"1"

    def _publish_sizes(self) -> None:
        if self.scorer is not None:
            metrics.HISTORY.labels("data_folder").set(self.scorer.history_size)
            metrics.HISTORY.labels("live").set(self.scorer.live.size())

    @property
    def ready(self) -> bool:
        return self.scorer is not None

    # ------------------------------------------------------------------ scoring
    def score(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Score one dossier (see module docstring); raises :class:`Unscorable` for a 422."""
        scorer = self.scorer
        if scorer is None:
            return self._unscored(raw, "starting", "the scoring service is still loading")
        try:
            scored = scorer.score(raw)
        except Unscorable:
            raise
        except Exception as exc:  # never in the portal's way: answer, count, log (no personal data)
            # the exception's message may quote a value: log its type and where, never its text
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error(
                "scoring failed (%s at %s:%d) for dossier %s",
                type(exc).__name__,
                Path(where.filename).name,
                where.lineno or 0,
                _ref(raw),
            )
            return self._unscored(raw, "internal_error", "scoring failed; proceed without a score")
        answer = answer_json(scored, scorer.model_version)
        case_fields = self._case_fields(scorer, scored, answer) if answer["flagged"] else None
        ts = scored.dossier["submitted_at"]
        try:
            fresh = self.log_store.record(
                scored.dossier_id,
                epoch_seconds(ts),  # type: ignore[arg-type]
                scored.update is None,
                replay_record(scored),
                answer,
                scorer.model_version,
                case_fields,
            )
        except Exception as exc:
            log.error(
                "durable log unavailable (%s); dossier %s unscored", type(exc).__name__, _ref(raw)
            )
            return self._unscored(raw, "log_unavailable", "the durable log is unavailable")
        if not fresh:
            metrics.REPEATS.inc()
            recorded = self.log_store.answer(scored.dossier_id)
            return {**(recorded or answer), "repeat": True}
        try:
            scorer.add(scored)
        except Exception as exc:  # logged already: the next restart puts it in the history
            log.error("live store update failed (%s) for dossier %s", type(exc).__name__, _ref(raw))
        metrics.SCORED.labels(str(scored.dossier.get("channel"))).inc()
        if answer["flagged"]:
            metrics.FLAGS.labels(answer["proxy_type"]).inc()
        return answer

    def _case_fields(
        self, scorer: OnlineScorer, scored: Scored, answer: dict[str, Any]
    ) -> dict[str, Any]:
        """A flagged dossier's fields for its case, with its evidence drawn now (point in time).

        The subgraph is marked and pseudonymised as a batch case's is
        (:mod:`service.cases.load`); if drawing it fails the case still comes,
        with the feeder's star of the dossier's own fields instead.
        """
        fields: dict[str, Any] = dossier_record(scored.dossier)
        try:
            graph = scorer.evidence(scored, MAX_RELATED)
            fields[EVIDENCE] = case_evidence(graph, answer["reasons"], self._pseudonymise_evidence)
        except Exception as exc:  # the answer must not wait on the picture; no text (values)
            log.error(
                "evidence subgraph failed (%s) for dossier %s",
                type(exc).__name__,
                _ref(scored.dossier),
            )
        return fields

    def _unscored(self, raw: dict[str, Any], code: str, message: str) -> dict[str, Any]:
        metrics.UNSCORED.labels(code).inc()
        return ScoreOut(
            dossier_id=str(raw.get("dossier_id", "")),
            status="unscored",
            reason=message,
            model_version=self.scorer.model_version if self.scorer else None,
        ).model_dump()

    def readiness(self) -> dict[str, Any]:
        scorer = self.scorer
        return {
            "status": "ready" if scorer else "loading",
            "model_version": scorer.model_version if scorer else None,
            "history_dossiers": scorer.history_size if scorer else 0,
            "live_dossiers": scorer.live.size() if scorer else 0,
            "store": self._store_name,
            "log": self.log_store.engine.dialect.name,
            "worker": os.getpid(),
            "reloads": self.reloads,
        }


def _freeze() -> None:
    """Move everything loaded so far out of the garbage collector's sight.

    The history holds millions of objects that live until the next reload; a
    full collection scanning them stalls every request for a fraction of a
    second. Frozen, they are never scanned (``gc.freeze``).
    """
    gc.collect()
    gc.freeze()


def _ref(raw: dict[str, Any]) -> str:
    """The dossier ID for logs (an opaque reference, not personal data), printable and short."""
    return "".join(c for c in str(raw.get("dossier_id", ""))[:64] if c.isprintable()) or "-"
