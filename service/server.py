"""Run the API under uvicorn: the app factory each worker calls, and the launcher.

``detector serve`` passes its options to the workers through environment
variables (``DETECTOR_DATA_DIR``, ``DETECTOR_MODEL_DIR``, ``DETECTOR_STORE``),
since uvicorn starts each worker as a fresh process that builds its own app.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi import FastAPI

from service.app import create_app
from service.settings import Settings


def app_factory() -> FastAPI:
    """The app of one worker, configured from the environment."""
    return create_app(Settings())


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
