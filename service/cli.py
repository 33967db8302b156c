"""The ``detector`` command line with the service's commands.

The batch commands live in :mod:`detector.cli`; this module adds the ones that
need the service (``serve``, ``api-key``, ``user add|list|disable|enable|reset-password``)
and extends two batch
commands with the case store (``score --to-db``, ``train --labels-from-db``),
so the layers stay one-way (service → detector → features). The ``detector``
console script points here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from detector.artifacts import load
from detector.cli import (
    Capacity,
    DataDir,
    Labels,
    ModelOut,
    PrecisionTarget,
    ReviewLabels,
    Rules,
    SimulatedProvinces,
    app,
    console,
)
from detector.cli import main as _main
from features import check_folder
from features.errors import UsageError
from service.auth import ROLES, digest, new_key

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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
#: the value an optional-value option gets when given bare (``--to-db`` alone)
DEFAULT_DB = "default"
_OPTIONAL_VALUE = ("--to-db", "--labels-from-db")


def optional_values(argv: list[str]) -> list[str]:
    """Give ``--to-db`` / ``--labels-from-db`` their default value when they come bare.

    Typer has no option with an optional value, so a bare option gets
    :data:`DEFAULT_DB` unless the next word is a database URL (has ``://``);
    ``--to-db=URL`` passes through as it is.
    """
    out: list[str] = []
    for i, word in enumerate(argv):
        out.append(word)
        if word in _OPTIONAL_VALUE:
            following = argv[i + 1] if i + 1 < len(argv) else ""
            if "://" not in following and following != DEFAULT_DB:
                out.append(DEFAULT_DB)
    return out


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


def _replace(name: str) -> Callable[..., Any]:
    """Unregister the batch command ``name`` and give back its function, to wrap it."""
    for info in list(app.registered_commands):
        callback = info.callback
        if callback is not None and (info.name or callback.__name__) == name:
            app.registered_commands.remove(info)
            return callback
    raise RuntimeError(f"no command {name!r} registered in detector.cli")


#: the commands in the order ``detector --help`` lists them (the batch ones first)
_ORDER = [info.name or getattr(info.callback, "__name__", "") for info in app.registered_commands]
_batch_score = _replace("score")
_batch_train = _replace("train")


@app.command()
def score(
    data_dir: DataDir,
    model: Annotated[
        Path, typer.Option("--model", help="Model folder written by `detector train`.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Scores file (.csv or .parquet).")],
    at: Annotated[
        str,
        typer.Option(
            "--at", help="review (everything known now) or submission (only what was known then)."
        ),
    ] = "review",
    since: Annotated[
        str | None,
        typer.Option(
            help="First submission day to write (YYYY-MM-DD); earlier dossiers still count as history."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last submission day to write (YYYY-MM-DD).")
    ] = None,
    details: Annotated[
        bool,
        typer.Option(
            help="Also write data gaps, reasons in Vietnamese and English, class probabilities."
        ),
    ] = False,
    to_db: Annotated[
        str | None,
        typer.Option(
            "--to-db",
            metavar="[URL]",
            help="Also load the flagged dossiers into the case store (the workbench's queue) and "
            "the unit dashboard; bare: DATABASE_URL, else var/detector.db.",
        ),
    ] = None,
    explore_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.9,
            help="With --to-db: share of the queue drawn at random below the threshold to teach "
            "the model (marked as such; a verdict on it is weighted by its chance of being drawn).",
        ),
    ] = 0.15,
) -> None:
    """Score dossiers: risk_score, proxy_type, flagged and reasons for each."""
    if to_db is None:
        _batch_score(data_dir, model, out, at, since, until, details)
        return
    from detector.batch import DETAIL_COLUMNS, SCORE_COLUMNS, score_dataset, write_table
    from detector.cli import _progress, _stage_progress
    from features import read_dataset
    from service.cases.load import load_batch

    store = _store(to_db)
    try:
        with _progress() as bar:
            step = _stage_progress(bar, 4)
            step("reading the data folder")
            ds = read_dataset(data_dir)
            scored = score_dataset(ds, model, at=at, since=since, until=until, progress=step)
            cols = SCORE_COLUMNS + (DETAIL_COLUMNS if details else [])
            path = write_table(scored[cols], out)
            n_flag = int(scored["flagged"].sum())
            task = bar.add_task("loading the case store", total=max(n_flag, 1) + 3)

            def loading(msg: str) -> None:
                bar.update(task, description=msg, advance=1)

            summary = load_batch(
                store, ds, scored, model, at=at, secret=_secret(), progress=loading,
                explore_share=explore_share,
            )  # fmt: skip
            bar.update(task, completed=max(n_flag, 1) + 3)
    finally:
        store.dispose()
    console.print(
        f"{len(scored):,} dossiers scored at {at}, {n_flag:,} flagged "
        f"({n_flag / max(1, len(scored)):.2%}) → {path}"
    )
    console.print(
        f"case store: {summary.flagged:,} flagged and {summary.explored:,} drawn to explore; "
        f"{summary.created:,} new cases, {summary.refreshed:,} refreshed, "
        f"{summary.kept_reviewed:,} reviewed kept as they were; "
        f"{summary.unit_months:,} unit-months, {summary.officer_months:,} officer-months "
        f"({summary.seconds:.1f}s)"
    )


@app.command()
def train(
    data_dir: DataDir,
    out: ModelOut,
    labels: Labels = None,
    labels_from_db: Annotated[
        str | None,
        typer.Option(
            "--labels-from-db",
            metavar="[URL]",
            help="Also learn from the case store's verdicts (misuse or legitimate, with their "
            "type), which win over --labels on the same dossier; bare: DATABASE_URL, else "
            "var/detector.db.",
        ),
    ] = None,
    rules: Rules = None,
    precision_target: PrecisionTarget = 0.95,
    capacity: Capacity = None,
    review_labels: ReviewLabels = None,
    simulated_provinces: SimulatedProvinces = 6,
) -> None:
    """Train the detectors (at submission and at review) and write them with their model card.

    Verdicts (--labels-from-db) on cases the queue flagged are not a sample of
    the dossiers: they train the trees only. Verdicts on cases drawn for
    exploration are a sample with known chances: each counts 1/propensity and,
    with the label file, calibrates the risk and sets the threshold (without
    enough of them, the simulated provinces do). With no labels at all, a
    starter model.
    """
    if labels_from_db is None:
        _batch_train(
            data_dir,
            out,
            labels=labels,
            rules=rules,
            precision_target=precision_target,
            capacity=capacity,
            review_labels=review_labels,
            simulated_provinces=simulated_provinces,
        )
        return
    from detector import batch
    from detector.cli import _print_card, _progress, _stage_progress
    from features import read_labels
    from service.cases.labels import merge_labels, split_by_choice, verdict_labels

    if not 0 < precision_target < 1 or (capacity is not None and not 0 < capacity < 1):
        raise UsageError("--precision-target and --capacity must be between 0 and 1")
    store = _store(labels_from_db)
    try:
        with store.session() as s:
            verdicts = verdict_labels(s)
    finally:
        store.dispose()
    explored, flagged = split_by_choice(verdicts)
    file_labels = read_labels(labels)[0] if labels is not None else None
    sample = merge_labels(file_labels, explored)  # the store's verdicts win over an older export
    chosen = read_labels(review_labels)[0] if review_labels is not None else None
    chosen = merge_labels(chosen, flagged)
    console.print(
        f"labels: {len(verdicts):,} from verdicts ({len(explored):,} on cases drawn to explore)"
        + ("" if file_labels is None else f", {len(file_labels):,} from {labels}")
        + " (a verdict wins over the file on the same dossier)"
    )
    with _progress() as bar:
        card = batch.train(
            data_dir,
            None,
            out,
            labels=sample if not sample.empty else None,
            review_labels=chosen if not chosen.empty else None,
            rules_path=str(rules) if rules else None,
            precision_target=precision_target,
            capacity=capacity,
            progress=_stage_progress(bar, 8),
            provinces=simulated_provinces,
        )
    _print_card(card, out)


# the wrappers take the place of the commands they wrap in the help's list
app.registered_commands.sort(
    key=lambda info: (
        _ORDER.index(name)
        if (name := info.name or getattr(info.callback, "__name__", "")) in _ORDER
        else len(_ORDER)
    )
)

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
    """Entry point of the ``detector`` console script."""
    _main(optional_values(sys.argv[1:] if argv is None else list(argv)))


if __name__ == "__main__":  # pragma: no cover
    main()
