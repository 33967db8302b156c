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
import signal
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


def feed_forever(parent: int) -> None:
    """The case feeder's process: every ``feed_seconds``, flagged answers become cases.

    ``parent`` is the server's process id, passed in rather than read here:
    the child may take seconds to import, and a server stopped meanwhile would
    leave it reading its new parent (init) as the server and feeding forever.
    A failed round is logged (see :func:`service.cases.feeder.feed_round`) and
    the next one tries again.
    """
    _die_with_parent()
    if os.getppid() != parent:  # the server ended while this process was starting
        return
    from service.cases.db import CaseStore
    from service.cases.feeder import CaseFeeder, feed_round
    from service.log import ScoringLog, log_engine

    settings = Settings()
    url = settings.database()
    feeder = CaseFeeder(CaseStore(url), ScoringLog(log_engine(url)), settings.secret())
    while os.getppid() == parent:  # the server went away (even by SIGKILL): so do we
        feed_round(feeder)
        deadline = time.monotonic() + settings.feed_seconds
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(min(0.5, settings.feed_seconds))


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when the server's process ends, however it ends.

    Elsewhere (no ``prctl``) the feeder's loop still notices within half a
    second that its parent is gone.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _exit_on_term(signum: int, frame: object) -> None:
    """SIGTERM ends ``detector serve`` through its ``finally`` (the feeder is stopped there)."""
    raise SystemExit(128 + signum)


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
    # uvicorn shuts down on SIGTERM, puts the handler found here back and raises the signal
    # again; the default handler would end the process before the ``finally`` below and
    # leave the feeder running without its server
    signal.signal(signal.SIGTERM, _exit_on_term)
    if settings.scoring_enabled:  # one feeder for all workers, off their interpreters
        os.environ["DETECTOR_FEED_IN_APP"] = "0"
        feeder = multiprocessing.get_context("spawn").Process(
            target=feed_forever, args=(os.getpid(),), name="detector-case-feeder", daemon=True
        )
        feeder.start()
    try:
        _serve(uvicorn, settings, host, port, workers, access_log)
    finally:
        if feeder is not None:
            feeder.terminate()
            feeder.join(5)


def _serve(
    uvicorn: Any, settings: Settings, host: str, port: int, workers: int, access_log: bool
) -> None:
    """Run uvicorn; it reads ``X-Forwarded-*`` only when the app is told to trust a proxy.

    uvicorn's ``proxy_headers`` is on by default and believes those headers
    from 127.0.0.1: a client on the same host (or anything a local proxy
    passes through unchanged) could then set the address the audit log
    records and make the session cookie Secure over plain http, before
    :func:`service.deps.client_ip` and :func:`service.deps.came_over_https`
    decide not to believe them. So it is off unless ``DETECTOR_TRUST_PROXY=1``;
    with it, uvicorn takes them only from ``DETECTOR_FORWARDED_ALLOW_IPS``
    (default ``127.0.0.1,::1``), and its access log shows the client's address.
    What the app itself believes depends on ``DETECTOR_TRUST_PROXY`` alone.
    """
    uvicorn.run(
        "service.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=os.environ.get("DETECTOR_LOG_LEVEL", "info").lower(),
        timeout_graceful_shutdown=10,
        proxy_headers=settings.trust_proxy,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
