"""Run the API under uvicorn: the app factory each worker calls, and the launcher.

``detector serve`` passes its options to the workers through environment
variables (``DETECTOR_DATA_DIR``, ``DETECTOR_MODEL_DIR``, ``DETECTOR_STORE``),
since uvicorn starts each worker as a fresh process that builds its own app.

When scoring, it also starts one **case feeder** process beside the workers:
it turns the flagged answers of the durable log into cases. In a thread of a
worker, its Python work competed with ``POST /v1/score`` for the interpreter
(``make bench-api``: p99 at 500 requests/s 47 ms with it, 14 ms without).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from features.errors import DetectorError
from service.app import create_app
from service.settings import Settings

log = logging.getLogger(__name__)

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def feed_forever() -> None:
    """The case feeder's process: every ``feed_seconds``, flagged answers become cases.

    A failed round is logged (see :func:`service.cases.feeder.feed_round`) and
    the next one tries again.
    """
    from service.cases.db import CaseStore
    from service.cases.feeder import CaseFeeder, feed_round
    from service.log import ScoringLog, make_engine

    parent = os.getppid()
    settings = Settings()
    url = settings.database()
    feeder = CaseFeeder(CaseStore(url), ScoringLog(make_engine(url)), settings.secret())
    while os.getppid() == parent:  # the server went away (even by SIGKILL): so do we
        feed_round(feeder)
        time.sleep(settings.feed_seconds)


def app_factory() -> FastAPI:
    """The app of one worker, configured from the environment.

    ``detector serve`` checks the model and the data folder before uvicorn
    starts; should loading still fail here, the worker logs one line (no
    traceback: its frames may hold personal data) and uvicorn exits.
    """
    app = create_app(Settings())
    app.router.lifespan_context = _one_line_failures(app.router.lifespan_context)
    logging.getLogger("uvicorn.error").addFilter(_no_lifespan_traceback)
    return app


def _one_line_failures(lifespan: Lifespan) -> Lifespan:
    """The app's lifespan, logging a start-up or shutdown failure in one line."""

    @asynccontextmanager
    async def logged(app: FastAPI) -> AsyncIterator[Any]:
        stage = "start-up"
        try:
            async with lifespan(app) as state:
                stage = "shutdown"
                yield state
        except Exception as exc:
            log.error("%s failed: %s", stage, _describe(exc))
            raise

    return logged


def _describe(exc: Exception) -> str:
    """Our own errors' messages (they name files and say what to do); else type and place only."""
    if isinstance(exc, DetectorError):
        return str(exc).replace("\n", " ")
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return f"{type(exc).__name__}{place}; check the data and model folders and start again"


def _no_lifespan_traceback(record: logging.LogRecord) -> bool:
    """Drop the traceback that uvicorn logs as the message of a failed lifespan (logged above)."""
    return not str(record.msg).startswith("Traceback (most recent call last)")


def run(
    data_dir: Path | None,
    model_dir: Path | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    store: str | None = None,
    access_log: bool = False,
) -> None:
    """Serve until interrupted (blocking); without folders, the workbench only.

    Raises
    ------
    ValueError
        On settings that cannot work (several workers with an in-memory
        history, no API key, ...), with a message that says what to change.
    """
    import uvicorn

    for name, folder in (("DETECTOR_DATA_DIR", data_dir), ("DETECTOR_MODEL_DIR", model_dir)):
        if folder is not None:  # neither: the workbench only
            os.environ[name] = str(folder.resolve())
    if store:
        os.environ["DETECTOR_STORE"] = store
    settings = Settings()
    if workers > 1 and settings.store == "memory":
        raise ValueError(
            f"--workers {workers} needs a shared history: add --store redis "
            "(and DETECTOR_REDIS_URL if Redis is not at 127.0.0.1:6379)"
        )
    create_app(settings)  # fail here, with one clear line, on bad keys or settings
    if settings.store == "redis":
        settings.secret()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="detector-metrics-")
    feeder = None
    if settings.scoring_enabled:  # one feeder for all workers, off their interpreters
        os.environ["DETECTOR_FEED_IN_APP"] = "0"
        feeder = multiprocessing.get_context("spawn").Process(
            target=feed_forever, name="detector-case-feeder", daemon=True
        )
        feeder.start()
    try:
        _serve(uvicorn, host, port, workers, access_log)
    finally:
        if feeder is not None:
            feeder.terminate()
            feeder.join(5)


def _serve(uvicorn: Any, host: str, port: int, workers: int, access_log: bool) -> None:
    uvicorn.run(
        "service.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=os.environ.get("DETECTOR_LOG_LEVEL", "info").lower(),
        timeout_graceful_shutdown=10,
    )
