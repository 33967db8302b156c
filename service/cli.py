"""The ``detector`` command line with the service's commands.

The batch commands and every option live in :mod:`detector.cli`; this module
adds the commands that need the service (``serve``, ``api-key``, ``user
add|list|disable|enable|reset-password``) to the same app, and gives the
batch commands the case store behind their ``--to-db`` and
``--labels-from-db`` options (:class:`detector.cli.CaseStoreLink`), so the
layers stay one-way (service -> detector -> features). The ``detector``
console script points here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from detector import cli as detector_cli
from detector.artifacts import load
from detector.cli import DEFAULT_DB, app, console
from detector.cli import main as _main
from features import check_folder
from features.errors import UsageError
from service.auth import ROLES, digest, new_key

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

    from features import Dataset
    from service.cases.db import CaseStore
    from service.cases.models import User


@app.command()
def serve(
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Data folder: reference tables and dossier history."),
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="Model folder (detector train --out).")
    ] = None,
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
    """Serve the scoring API (POST /v1/score) and the inspection workbench until interrupted.

    Without --data and --model only the workbench is served (the scoring
    endpoints answer 503). API keys come from DETECTOR_API_KEYS (key:role pairs,
    roles portal and admin) or DETECTOR_API_KEYS_FILE; the durable log and the
    case store go to DATABASE_URL, else var/detector.db.
    """
    if (data is None) != (model is None):
        given, missing = ("--data", "--model") if model is None else ("--model", "--data")
        raise UsageError(
            f"{given} was given without {missing}: give both to score, or neither to serve "
            "the workbench only"
        )
    if data is not None and model is not None:
        if not data.is_dir():
            raise UsageError(f"--data {data}: expected a data folder, found nothing there")
        # what would fail in a worker, after uvicorn started, fails here in one line (exit 2)
        load(model, "submission")  # the card, the file's digest, the feature set, unpickling
        check_folder(data)  # every table file readable, with its required columns
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


# ------------------------------------------------------------------ case store
def _store(url: str | None) -> CaseStore:
    """The case store at ``url``; ``default`` means DATABASE_URL, else var/detector.db."""
    from service.cases.db import CaseStore
    from service.settings import Settings

    target = Settings().database() if url in (None, "", DEFAULT_DB) else str(url)
    try:
        return CaseStore(target)
    except Exception as exc:  # the URL may carry a password: name the kind of failure only
        raise UsageError(
            f"cannot open the case store ({type(exc).__name__}); check DATABASE_URL or the URL given"
        ) from exc


def _secret() -> bytes:
    from service.settings import Settings

    try:
        return Settings().secret()
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


class _CaseStoreLink:
    """``score --to-db`` and ``train --labels-from-db`` (declared in :mod:`detector.cli`)."""

    def load(
        self,
        url: str,
        ds: Dataset,
        scored: pd.DataFrame,
        model: Path,
        *,
        at: str,
        explore_share: float,
        progress: Callable[[str], None],
    ) -> str:
        from service.cases.load import load_batch

        store = _store(url)
        try:
            summary = load_batch(store, ds, scored, model, at=at, secret=_secret(),
                                 progress=progress, explore_share=explore_share)  # fmt: skip
        finally:
            store.dispose()
        return (
            f"case store: {summary.flagged:,} flagged and {summary.explored:,} drawn to explore; "
            f"{summary.created:,} new cases, {summary.refreshed:,} refreshed, "
            f"{summary.kept_reviewed:,} reviewed kept as they were; "
            f"{summary.unit_months:,} unit-months, {summary.officer_months:,} officer-months "
            f"({summary.seconds:.1f}s)"
        )

    def labels(
        self, url: str, labels: pd.DataFrame | None, review_labels: pd.DataFrame | None
    ) -> tuple[pd.DataFrame | None, pd.DataFrame | None, str]:
        from service.cases.labels import merge_labels, split_by_choice, verdict_labels

        store = _store(url)
        try:
            with store.session() as s:
                verdicts = verdict_labels(s)
        finally:
            store.dispose()
        explored, flagged = split_by_choice(verdicts)
        sample = merge_labels(labels, explored)  # the store's verdicts win over an older export
        chosen = merge_labels(review_labels, flagged)
        said = (
            f"labels: {len(verdicts):,} from verdicts ({len(explored):,} on cases drawn to explore)"
            + ("" if labels is None else f", {len(labels):,} from the label file")
            + " (a verdict wins over the file on the same dossier)"
        )
        return (None if sample.empty else sample), (None if chosen.empty else chosen), said


detector_cli.case_store = _CaseStoreLink()

user_app = typer.Typer(help="Workbench users.", no_args_is_help=True)
app.add_typer(user_app, name="user")


def _new_password(password_file: Path | None) -> str:
    """From the file, else DETECTOR_NEW_PASSWORD, else asked twice without echo."""
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"--password-file {password_file}: cannot read it") from exc
        return lines[0] if lines else ""
    from_env = os.environ.get("DETECTOR_NEW_PASSWORD")
    if from_env:
        return from_env
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("add")
def user_add(
    username: Annotated[
        str,
        typer.Argument(
            help="Login name: ASCII letters, digits, '.', '_', '-'; kept in lower case."
        ),
    ],
    role: Annotated[str, typer.Option(help="viewer, reviewer or admin.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the workbench.")] = "",
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from the first line of this file."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Case store URL (default: DATABASE_URL, else var/detector.db)."),
    ] = None,
) -> None:
    """Add a workbench user; the password comes from --password-file, DETECTOR_NEW_PASSWORD,
    or is asked twice without echo, and is never printed."""
    from service.cases import audit
    from service.cases.security import UserError, create_user

    password = _new_password(password_file)
    store = _store(db)
    try:
        with store.session() as s:
            user = create_user(s, username, password, role, display_name)
            audit.record(
                s,
                None,
                "user_create",
                username="detector user add",
                detail={"user": user.username, "role": user.role},
            )
    except UserError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        store.dispose()
    console.print(f"user {user.username!r} added with role {role}")


_DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Case store URL (default: DATABASE_URL, else var/detector.db)."),
]
_UserArgument = Annotated[str, typer.Argument(help="Login name (any case).")]


def _existing_user(s: Session, username: str) -> User:
    """The user with this name (any case), else a one-line refusal naming it."""
    from service.cases.security import find_user

    user = find_user(s, username)
    if user is None:  # escaped: a look-alike letter shows as \u0430, not as "a"
        raise UsageError(
            f"no user {username.strip()!a} in the case store (detector user list shows them)"
        )
    return user


def _change_user(
    store: CaseStore,
    username: str,
    action: str,
    change: Callable[[Session, User], dict[str, Any]],
) -> dict[str, Any]:
    """Apply ``change`` to the user and audit it as ``action`` in one transaction.

    The audit entry names the command as who did it (the operator has no
    workbench login) and the user changed; ``change`` adds what it did,
    never a password.
    """
    from service.cases import audit
    from service.cases.security import UserError

    command = action.removeprefix("user_").replace("password_reset", "reset-password")
    try:
        with store.session() as s:
            user = _existing_user(s, username)
            detail = {"user": user.username, **change(s, user)}
            audit.record(s, None, action, username=f"detector user {command}", detail=detail)
    except UserError as exc:
        raise UsageError(str(exc)) from exc
    return detail


def _ended(n: int) -> str:
    return "no open session" if n == 0 else f"{n} open session{'s' if n > 1 else ''} ended"


@user_app.command("list")
def user_list(db: _DbOption = None) -> None:
    """List the workbench users: username, role, active, created (local time)."""
    from zoneinfo import ZoneInfo

    import sqlalchemy as sa

    from features.contract import LOCAL_TZ
    from service.cases.models import User

    store = _store(db)
    try:
        with store.session() as s:
            users = list(s.scalars(sa.select(User).order_by(User.username)))
            rows = [
                (
                    u.username,
                    u.role,
                    "yes" if u.active else "no",
                    # SQLite hands back naive UTC
                    (u.created_at if u.created_at.tzinfo else u.created_at.replace(tzinfo=UTC))
                    .astimezone(ZoneInfo(LOCAL_TZ))
                    .isoformat(timespec="seconds"),
                )
                for u in users
            ]
    finally:
        store.dispose()
    width = max([len("username"), *(len(r[0]) for r in rows)])
    console.print(f"{'username':<{width}}  role      active  created", highlight=False)
    for name, role, active, created in rows:
        console.print(f"{name:<{width}}  {role:<8}  {active:<6}  {created}", highlight=False)


@user_app.command("disable")
def user_disable(username: _UserArgument, db: _DbOption = None) -> None:
    """Disable a user: they cannot log in, and their open sessions end now."""
    from service.cases.security import set_active

    store = _store(db)
    try:
        detail = _change_user(
            store,
            username,
            "user_disable",
            lambda s, user: {"sessions_ended": set_active(s, user, False)},
        )
    finally:
        store.dispose()
    console.print(f"user {detail['user']!r} disabled; {_ended(detail['sessions_ended'])}")


@user_app.command("enable")
def user_enable(username: _UserArgument, db: _DbOption = None) -> None:
    """Enable a user again (the sessions they had before stay ended)."""
    from service.cases.security import set_active

    def enable(s: Session, user: User) -> dict[str, Any]:
        set_active(s, user, True)
        return {}

    store = _store(db)
    try:
        detail = _change_user(store, username, "user_enable", enable)
    finally:
        store.dispose()
    console.print(f"user {detail['user']!r} enabled")


@user_app.command("reset-password")
def user_reset_password(
    username: _UserArgument,
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from the first line of this file."),
    ] = None,
    db: _DbOption = None,
) -> None:
    """Give a user a new password and end their open sessions.

    The password comes from --password-file, DETECTOR_NEW_PASSWORD, or is
    asked twice without echo, and is never printed.
    """
    from service.cases.security import set_password

    store = _store(db)
    try:
        with store.session() as s:  # an unknown name is refused before a password is asked
            _existing_user(s, username)
        password = _new_password(password_file)
        detail = _change_user(
            store,
            username,
            "user_password_reset",
            lambda s, user: {"sessions_ended": set_password(s, user, password)},
        )
    finally:
        store.dispose()
    console.print(f"user {detail['user']!r}: password changed; {_ended(detail['sessions_ended'])}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``detector`` console script: the batch commands and the service's."""
    _main(argv)


if __name__ == "__main__":  # pragma: no cover
    main()
