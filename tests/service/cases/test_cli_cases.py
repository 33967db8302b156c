"""The command line with the case store: ``score --to-db``, ``user ...``, ``train --labels-from-db``.

Every command runs for real (``python -m service.cli``) on the session's small
province, as a user would type it; the scores are the last month's only
(``--since 2025-12-01``), which keeps each load to seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from detector.artifacts import load_card
from detector.cli import DEFAULT_DB, optional_values
from detector.explore import exploration_count
from service.app import create_app
from service.cases.db import CaseStore
from service.cases.labels import merge_labels, verdict_labels
from service.cases.models import AuditEntry, Case, User, WebSession
from service.cases.queue import record_verdict
from service.cases.security import Who, authenticate, create_user
from service.settings import Settings

SINCE = "2025-12-01"
PASSWORD = "a long enough password"


def detector(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("DETECTOR_NEW_PASSWORD", "DATABASE_URL")
    }
    full_env.update({"DETECTOR_LOG_LEVEL": "WARNING", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=full_env,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["score", "D", "--to-db"], ["score", "D", "--to-db", DEFAULT_DB]),
        (["score", "D", "--to-db", "--out", "x"], ["score", "D", "--to-db", DEFAULT_DB, "--out", "x"]),
        (["score", "D", "--to-db", "sqlite:///a.db"], ["score", "D", "--to-db", "sqlite:///a.db"]),
        (["score", "D", "--to-db=sqlite:///a.db"], ["score", "D", "--to-db=sqlite:///a.db"]),
        # a data folder is not a URL: the option stays bare, the folder stays an argument
        (["score", "--to-db", "D"], ["score", "--to-db", DEFAULT_DB, "D"]),
        (["train", "D", "--labels-from-db"], ["train", "D", "--labels-from-db", DEFAULT_DB]),
        (["serve", "--data", "D"], ["serve", "--data", "D"]),
    ],
)  # fmt: skip
def test_bare_database_options_get_the_default(argv: list[str], expected: list[str]) -> None:
    assert optional_values(argv) == expected


@pytest.mark.slow
def test_score_to_db_then_user_add_then_train_from_the_verdicts(
    province_dir: Path, model_dir: Path, partial_labels: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    data = str(province_dir / "data")
    scores = tmp_path / "scores.csv"
    proc = detector("score", data, "--model", str(model_dir), "--out", str(scores),
                    "--since", SINCE, "--to-db", url)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    flagged = pd.read_csv(scores, dtype={"dossier_id": str}).query("flagged")
    explored = exploration_count(len(flagged))  # 15 % of the queue drawn to teach the model
    assert (
        f"case store: {len(flagged):,} flagged and {explored:,} drawn to explore; "
        f"{len(flagged) + explored:,} new cases"
    ) in proc.stdout
    # the scores file is the contract's (no details asked), whatever the store got
    assert list(pd.read_csv(scores, nrows=1).columns) == [
        "dossier_id", "risk_score", "proxy_type", "flagged", "reasons",
    ]  # fmt: skip
    # the cases hold the scores file's reasons (the load took them from the same run)
    codes = flagged.set_index("dossier_id")["reasons"]
    store = CaseStore(url)
    with store.session() as s:
        query = sa.select(Case.dossier_id, Case.reasons).where(Case.chosen_by == "queue")
        held = {dossier_id: reasons for dossier_id, reasons in s.execute(query)}
    store.dispose()
    assert {
        d: ";".join(r["code"] for r in reasons) for d, reasons in held.items()
    } == codes.to_dict()

    # users: password from the environment, then from a file; never printed
    proc = detector("user", "add", "rita", "--role", "reviewer", "--db", url,
                    env={"DETECTOR_NEW_PASSWORD": PASSWORD})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    secret_file = tmp_path / "pw.txt"
    secret_file.write_text(PASSWORD + "-2\n")
    proc2 = detector("user", "add", "adam", "--role", "admin", "--db", url,
                     "--password-file", str(secret_file))  # fmt: skip
    assert proc2.returncode == 0, proc2.stderr
    for p in (proc, proc2):
        assert PASSWORD not in p.stdout + p.stderr
    store = CaseStore(url)
    with store.session() as s:
        assert authenticate(s, "rita", PASSWORD) is not None
        assert authenticate(s, "adam", PASSWORD + "-2") is not None
        rita = s.scalar(sa.select(User).where(User.username == "rita"))
        assert rita is not None and rita.role == "reviewer"
        who = Who(rita.id, "rita", "rita", "reviewer", "csrf")
        # the team reviews the top of the queue; the simulator's truth is their verdict
        truth = pd.read_csv(province_dir / "labels.csv", dtype=str).set_index("dossier_id")[
            "proxy_type"
        ]
        top = list(
            s.execute(
                sa.select(Case.id, Case.dossier_id)
                .where(Case.chosen_by == "queue")
                .order_by(Case.risk_score.desc())
                .limit(40)
            )
        )
        drawn = list(
            s.execute(
                sa.select(Case.id, Case.dossier_id).where(Case.chosen_by == "exploration").limit(10)
            )
        )
        assert len(drawn) == 10
        for case_id, dossier_id in top + drawn:
            t = truth[dossier_id]
            decision = "misuse" if t in ("identity_misuse", "officer_proxy") else "legitimate"
            record_verdict(s, case_id, who, decision, t)
        verdicts = verdict_labels(s)
    store.dispose()
    assert len(verdicts) == 50
    drawn_verdicts = verdicts[verdicts["chosen_by"] == "exploration"]
    assert len(drawn_verdicts) == 10  # each counts 1/propensity (at least once)
    assert (drawn_verdicts["weight"] >= 1).all() and (verdicts["weight"] > 1).any()
    out = tmp_path / "model2"
    proc = detector("train", data, "--labels", str(partial_labels), "--labels-from-db", url,
                    "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    merged = merge_labels(pd.read_csv(partial_labels, dtype=str), verdicts)
    card = load_card(out)
    # the verdicts are December's, the file's labels end in October: 50 more labelled dossiers
    assert card["training"]["labelled"] == len(merged) == len(pd.read_csv(partial_labels)) + 50
    assert "50 from verdicts (10 on cases drawn to explore)" in proc.stdout
    # the queue flagged 40: they train the trees but do not calibrate the risk; the 10 drawn do
    assert card["training"]["labels_chosen_by_review"] == 40


@pytest.mark.parametrize("where", ["end", "middle"])
def test_a_bare_to_db_uses_database_url(
    province_dir: Path, model_dir: Path, db_url: str, tmp_path: Path, where: str
) -> None:
    args = ["score", str(province_dir / "data"), "--model", str(model_dir),
            "--out", str(tmp_path / "s.csv"), "--since", "2025-12-20", "--details"]  # fmt: skip
    args = [*args, "--to-db"] if where == "end" else [*args[:2], "--to-db", *args[2:]]
    proc = detector(*args, env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    flagged = pd.read_csv(tmp_path / "s.csv", dtype={"dossier_id": str}).query("flagged")
    store = CaseStore(db_url)
    with store.session() as s:
        cases = {d: why for d, why in s.execute(sa.select(Case.dossier_id, Case.chosen_by))}
    store.dispose()
    queued = sorted(d for d, why in cases.items() if why == "queue")
    assert queued == sorted(flagged["dossier_id"])
    assert len(cases) - len(queued) == exploration_count(len(queued))
    assert not (tmp_path / "var" / "detector.db").exists()  # DATABASE_URL, not the default file
    # the evidence's pseudonyms are keyed with the installation's own secret, made at 0600
    assert (tmp_path / "var" / "secret").stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
def test_train_with_an_empty_case_store_and_no_file_makes_a_starter(
    province_dir: Path, tmp_path: Path
) -> None:
    # day one: no label file, no verdicts yet; a model all the same, and the card says which
    data = str(province_dir / "data")
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    out = tmp_path / "m"
    proc = detector(
        "train", data, "--out", str(out), "--labels-from-db", url, "--simulated-provinces", "2"
    )
    assert proc.returncode == 0, proc.stderr
    assert "0 from verdicts" in proc.stdout and "starter" in proc.stdout
    card = load_card(out)
    assert card["training"]["policy"]["kind"] == "starter"
    assert card["training"]["labelled"] == 0


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["nina", "--role", "reviewer"], {"DETECTOR_NEW_PASSWORD": "short"}, "at least 10"),
        (["nina", "--role", "boss"], {"DETECTOR_NEW_PASSWORD": PASSWORD}, "role: expected one of"),
        (["bad name!", "--role", "viewer"], {"DETECTOR_NEW_PASSWORD": PASSWORD}, "username: expected"),
    ],
)  # fmt: skip
def test_user_add_refuses_with_one_line(
    db_url: str, args: list[str], env: dict[str, str], message: str
) -> None:
    proc = detector("user", "add", *args, "--db", db_url, env=env)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1
    assert env["DETECTOR_NEW_PASSWORD"] not in proc.stdout + proc.stderr


# ----------------------------------------------------------------- user admin
def _audit(store: CaseStore, action: str) -> list[AuditEntry]:
    with store.session() as s:
        q = sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(s.scalars(q))


def _sessions(store: CaseStore, username: str) -> int:
    with store.session() as s:
        q = sa.select(sa.func.count()).select_from(WebSession).join(User)
        return int(s.scalar(q.where(User.username == username)) or 0)


@pytest.mark.slow
def test_disable_enable_and_reset_password_end_sessions_and_are_audited(
    db_url: str, tmp_path: Path
) -> None:
    """rita logs in to the workbench; each command is run as an operator would, and the
    workbench is asked after each what it now lets rita do."""
    store = CaseStore(db_url)
    with store.session() as s:
        create_user(s, "rita", PASSWORD, "reviewer")
        create_user(s, "adam", PASSWORD, "admin")
    settings = Settings(state_dir=tmp_path, data_dir=None, model_dir=None, api_keys="")
    app = create_app(settings, cases=store)

    def log_in(client: TestClient, password: str = PASSWORD) -> int:
        r = client.post("/v1/session", json={"username": "rita", "password": password})
        return int(r.status_code)

    with TestClient(app) as rita, TestClient(app) as adam:
        assert log_in(rita) == 200 and rita.get("/v1/session").status_code == 200
        adam.post("/v1/session", json={"username": "adam", "password": PASSWORD})

        # disable: her open session ends at once, and she cannot log in again
        proc = detector("user", "disable", "RITA", "--db", db_url)  # any case names her
        assert proc.returncode == 0, proc.stderr
        assert "rita" in proc.stdout and "1 open session ended" in proc.stdout
        assert rita.get("/v1/session").status_code == 401
        assert _sessions(store, "rita") == 0 and _sessions(store, "adam") == 1  # only hers
        assert log_in(rita) == 401
        (entry,) = _audit(store, "user_disable")
        assert entry.detail == {"user": "rita", "sessions_ended": 1}
        assert entry.username == "detector user disable"

        # enable: she logs in again; the session she had stays ended
        old = rita.cookies.get("detector_session")
        proc = detector("user", "enable", "rita", "--db", db_url)
        assert proc.returncode == 0, proc.stderr
        assert _audit(store, "user_enable")[0].detail == {"user": "rita"}
        assert log_in(rita) == 200
        with TestClient(app) as stale:
            stale.cookies.set("detector_session", str(old))
            assert stale.get("/v1/session").status_code == 401

        # reset-password: a short one is refused and changes nothing
        proc = detector("user", "reset-password", "rita", "--db", db_url,
                        env={"DETECTOR_NEW_PASSWORD": "short"})  # fmt: skip
        assert proc.returncode == 2 and "at least 10" in proc.stderr
        assert "short" not in proc.stdout and rita.get("/v1/session").status_code == 200
        # from a file: her sessions end, the old password stops working, the new one works
        new = "a brand new long password"
        secret_file = tmp_path / "pw.txt"
        secret_file.write_text(new + "\n")
        proc = detector("user", "reset-password", "rita", "--db", db_url,
                        "--password-file", str(secret_file))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert new not in proc.stdout + proc.stderr
        assert rita.get("/v1/session").status_code == 401
        assert log_in(rita) == 401 and log_in(rita, new) == 200
        (entry,) = _audit(store, "user_password_reset")
        assert entry.detail == {"user": "rita", "sessions_ended": 1}
        every = " ".join(str(e.detail) for e in _audit(store, "user_password_reset"))
        assert new not in every and PASSWORD not in every
    store.dispose()


@pytest.mark.parametrize(
    "command",
    [["disable"], ["enable"], ["reset-password", "--password-file", "/nonexistent/pw"]],
)
def test_a_user_command_on_an_unknown_user_says_so_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    store = CaseStore(url)
    proc = detector("user", command[0], "\u0430dmin", *command[1:], "--db", url)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no user '\\u0430dmin'" in proc.stderr, proc.stderr
    assert not _audit(store, f"user_{command[0]}".replace("reset-password", "password_reset"))
    store.dispose()


def test_user_list_shows_every_user_without_secrets(db_url: str) -> None:
    store = CaseStore(db_url)
    with store.session() as s:
        create_user(s, "rita", PASSWORD, "reviewer")
        create_user(s, "vera", PASSWORD, "viewer")
        s.execute(sa.update(User).where(User.username == "vera").values(active=False))
    proc = detector("user", "list", "--db", db_url)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split() == ["username", "role", "active", "created"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert set(rows) == {"rita", "vera"}
    assert rows["rita"][:2] == ["reviewer", "yes"] and rows["vera"][:2] == ["viewer", "no"]
    assert rows["rita"][2].endswith("+07:00")  # created, on the local clock
    assert "argon2" not in proc.stdout
    store.dispose()
