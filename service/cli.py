"""The ``detector`` command line with the service's commands (``serve``, ``api-key``).

The batch commands live in :mod:`detector.cli`; this module adds the ones that
need the HTTP service, so the layers stay one-way (service → detector →
features). The ``detector`` console script points here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from detector.artifacts import load_card
from detector.cli import app, console
from detector.cli import main as _main
from features.errors import UsageError
from service.auth import ROLES, digest, new_key


@app.command()
def serve(
    data: Annotated[
        Path, typer.Option("--data", help="Data folder: reference tables and dossier history.")
    ],
    model: Annotated[Path, typer.Option("--model", help="Model folder (detector train --out).")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (>1 needs --store redis).", min=1)
    ] = 1,
    store: Annotated[
        str | None,
        typer.Option(help="Live history: memory (one process) or redis (shared). Default: memory."),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request line.")] = False,
) -> None:
    """Serve the scoring API (POST /v1/score) until interrupted.

    API keys come from DETECTOR_API_KEYS (key:role pairs, roles portal and admin)
    or DETECTOR_API_KEYS_FILE; the durable log goes to DATABASE_URL, else var/detector.db.
    """
    if not data.is_dir():
        raise UsageError(f"--data {data}: expected a data folder, found nothing there")
    load_card(model)  # a missing or broken model stops here, with what to do
    if store not in (None, "memory", "redis"):
        raise UsageError(f"--store must be memory or redis, found {store!r}")
    from service.server import run

    try:
        run(data, model, host, port, workers, store, access_log)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


@app.command("api-key")
def api_key(
    role: Annotated[str, typer.Option(help=f"Role of the key: {', '.join(ROLES)}.")] = "portal",
) -> None:
    """Make a new random API key; prints the key and the hashed line to configure instead."""
    if role not in ROLES:
        raise UsageError(f"--role must be one of {', '.join(ROLES)}, found {role!r}")
    key = new_key()
    console.print(f"key (give it to the caller, once): {key}")
    console.print(f"configuration line (stores only the hash): sha256={digest(key)}:{role}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``detector`` console script."""
    _main(argv)


if __name__ == "__main__":  # pragma: no cover
    main()
