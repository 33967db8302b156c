"""``detector serve`` and ``detector api-key`` from the command line: clear refusals, one line
each; what the real server believes of the headers a client sends."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from server_run import Server, free_port
from svc import KEYS, PORTAL

from service.auth import KeyRing
from service.cases.db import CaseStore
from service.cases.models import AuditEntry, Case
from service.cases.security import create_user


def detector(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--data", "nowhere"], {"DETECTOR_API_KEYS": KEYS}, "expected a data folder"),
        (["--model", "nowhere"], {"DETECTOR_API_KEYS": KEYS}, "train a model first"),
        ([], {"DETECTOR_API_KEYS": ""}, "no API key configured"),
        ([], {"DETECTOR_API_KEYS": "short:portal"}, "at least 16 characters"),
        ([], {"DETECTOR_API_KEYS": "a-long-enough-key-1234:root"}, "role must be one of"),
        (["--workers", "2"], {"DETECTOR_API_KEYS": KEYS}, "needs a shared history"),
    ],
)
def test_serve_refuses_unusable_settings_in_one_line(
    split: dict[str, Any], model_dir: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    base = {"--data": str(split["history"]), "--model": str(model_dir)}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    cmd = [x for kv in base.items() for x in kv]
    proc = detector("serve", *cmd, env={"DETECTOR_API_KEYS_FILE": "", **env})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr


# ----------------------------------------------------------------- start-up failures
def _drop_model_file(model: Path, data: Path) -> None:
    (model / "detector-submission.joblib").unlink()


def _truncate_model_file(model: Path, data: Path) -> None:
    path = model / "detector-submission.joblib"
    path.write_bytes(path.read_bytes()[:1000])


def _card(change: Callable[[dict[str, Any]], None]) -> Callable[[Path, Path], None]:
    def damage(model: Path, data: Path) -> None:
        card = json.loads((model / "model_card.json").read_text())
        change(card)
        (model / "model_card.json").write_text(json.dumps(card))

    return damage


def _damaged_pickle_with_its_digest(model: Path, data: Path) -> None:
    # the card was edited to match the damaged bytes: only unpickling can tell
    path = model / "detector-submission.joblib"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]

    def change(card: dict[str, Any]) -> None:
        card["moments"]["submission"]["sha256"] = digest
        card["model_version"] = "-".join(m["sha256"] for _, m in sorted(card["moments"].items()))

    _card(change)(model, data)


def _empty_dossiers(model: Path, data: Path) -> None:
    (data / "dossiers.csv").write_bytes(b"")


def _accounts_without_holder(model: Path, data: Path) -> None:
    text = (data / "accounts.csv").read_text(encoding="utf-8")
    (data / "accounts.csv").write_text(text.replace("holder_id", "holder"), encoding="utf-8")


def _fewer_features(card: dict[str, Any]) -> None:
    card["moments"]["submission"]["features"] = card["moments"]["submission"]["features"][:-1]


def _threshold_5(card: dict[str, Any]) -> None:
    card["moments"]["submission"]["threshold"] = 5.0


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_drop_model_file, "detector-submission.joblib: missing"),
        (_truncate_model_file, "detector-submission.joblib: does not match its model card"),
        (_card(_fewer_features), "trained on a different feature set"),
        (_card(_threshold_5), "model_card.json: moments.submission.threshold"),
        (_damaged_pickle_with_its_digest, "detector-submission.joblib: cannot be loaded"),
        (_empty_dossiers, "dossiers.csv: the file is empty; expected a CSV header row"),
        (_accounts_without_holder, "accounts.csv: required column 'holder_id' is missing"),
    ],
    ids=["no-model-file", "truncated", "features", "threshold", "unpicklable", "empty", "column"],
)
def test_serve_refuses_a_broken_model_or_data_folder_in_one_line(
    split: dict[str, Any],
    model_dir: Path,
    tmp_path: Path,
    damage: Callable[[Path, Path], None],
    expected: str,
) -> None:
    model, data = tmp_path / "model", tmp_path / "data"
    shutil.copytree(model_dir, model)
    shutil.copytree(split["history"], data)
    damage(model, data)
    env = {"DETECTOR_API_KEYS": KEYS, "DETECTOR_API_KEYS_FILE": "", "DATABASE_URL": ""}
    env["DETECTOR_STATE_DIR"] = str(tmp_path / "state")
    port = str(free_port())
    proc = detector("serve", "--data", data, "--model", model, "--port", port, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "Uvicorn" not in proc.stdout + proc.stderr  # it stopped before the server started


def test_a_worker_that_fails_to_start_logs_one_line_without_personal_data(
    split: dict[str, Any], model_dir: Path, tmp_path: Path
) -> None:
    # bad bytes past the first MiB: the headers pass serve's check, the worker's full read fails
    data = tmp_path / "data"
    shutil.copytree(split["history"], data)
    dossiers = data / "dossiers.csv"
    assert dossiers.stat().st_size > 1 << 20
    with dossiers.open(encoding="utf-8") as fh:
        fields = fh.readline().count(",") + 1
    row = [b"D-BROKEN", b"1.001193", b"U001", b"online", b"2025-08-01T08:00:00+07:00"]
    row += [b"079095012345", b"Nguy\xff\xfen Van An"]  # a citizen's ID and name, badly encoded
    with dossiers.open("ab") as fh:
        fh.write(b",".join(row + [b""] * (fields - len(row))) + b"\n")
    env = {"DETECTOR_API_KEYS": KEYS, "DETECTOR_API_KEYS_FILE": "", "DATABASE_URL": ""}
    env["DETECTOR_STATE_DIR"] = str(tmp_path / "state")
    port = str(free_port())
    proc = detector("serve", "--data", data, "--model", model_dir, "--port", port, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    errors = [ln for ln in output.splitlines() if "start-up failed" in ln]
    assert len(errors) == 1 and "dossiers.csv: cannot be read as a UTF-8 CSV" in errors[0], output
    assert "079095012345" not in output and "Van An" not in output
    assert len(output.splitlines()) <= 6, output  # uvicorn's few lines and ours, no traceback


def test_serve_starts_on_a_folder_without_dossiers(
    split: dict[str, Any], model_dir: Path, tmp_path: Path
) -> None:
    # a header-only dossiers file is an empty history, not an error: the live one grows from it
    data = tmp_path / "data"
    shutil.copytree(split["history"], data)
    with (data / "dossiers.csv").open(encoding="utf-8") as fh:
        header = fh.readline()
    (data / "dossiers.csv").write_text(header, encoding="utf-8")
    env = {"DETECTOR_API_KEYS": KEYS, "DETECTOR_STATE_DIR": str(tmp_path), "DATABASE_URL": ""}
    with Server(data, model_dir, env) as server:
        assert httpx.get(f"{server.url}/readyz").json()["history_dossiers"] == 0
        r = httpx.post(f"{server.url}/v1/score", json=split["later"][0], headers=PORTAL, timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "scored"
        assert httpx.get(f"{server.url}/readyz").json()["live_dossiers"] == 1


def test_api_key_makes_a_key_whose_hash_line_is_accepted() -> None:
    proc = detector("api-key", "--role", "admin")
    assert proc.returncode == 0
    key = proc.stdout.split("once): ")[1].split()[0]
    line = proc.stdout.split("instead): ")[1].split()[0] if "instead)" in proc.stdout else None
    line = line or proc.stdout.strip().splitlines()[-1].split(": ")[-1]
    ring = KeyRing([line])
    caller = ring.caller(key)
    assert caller is not None and caller.role == "admin"
    assert key not in line  # only the hash is configured


@pytest.mark.slow
def test_serve_answers_over_real_http(
    split: dict[str, Any], model_dir: Path, tmp_path: Path
) -> None:
    env = {"DETECTOR_API_KEYS": KEYS, "DETECTOR_STATE_DIR": str(tmp_path), "DATABASE_URL": ""}
    env["DETECTOR_FEED_SECONDS"] = "0.5"
    with Server(split["history"], model_dir, env) as server:
        r = httpx.post(f"{server.url}/v1/score", json=split["later"][0], headers=PORTAL, timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "scored"
        assert httpx.get(f"{server.url}/readyz").json()["live_dossiers"] == 1
        flagged = []
        for dossier in split["later"][1:400]:
            answer = httpx.post(f"{server.url}/v1/score", json=dossier, headers=PORTAL).json()
            if answer["flagged"]:
                flagged.append(answer["dossier_id"])
        assert flagged, "no flagged dossier among 400 later ones"
        # the feeder, a process of its own beside the worker, makes them cases
        store = CaseStore(f"sqlite:///{tmp_path / 'detector.db'}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with store.session() as s:
                made = set(s.scalars(sa.select(Case.dossier_id)))
            if made >= set(flagged):
                break
            time.sleep(0.5)
        store.dispose()
        assert made == set(flagged)
    assert (tmp_path / "detector.db").exists()  # the durable log went to the state folder


@pytest.mark.parametrize("trust", [False, True])
def test_forwarded_headers_are_believed_only_behind_a_trusted_proxy(
    tmp_path: Path, trust: bool
) -> None:
    """The probe, against the real ``detector serve``: a client on the same host sent
    ``X-Forwarded-For: 6.6.6.6`` and ``X-Forwarded-Proto: https``; without
    DETECTOR_TRUST_PROXY the audit showed 6.6.6.6 and the session cookie was Secure over
    plain http, because uvicorn's own proxy_headers (on by default, trusting 127.0.0.1)
    rewrote the client and scheme before the app could decide not to believe them."""
    password = "a long enough password"
    store = CaseStore(f"sqlite:///{tmp_path / 'detector.db'}")  # the one serve will open
    with store.session() as s:
        create_user(s, "rita", password, "reviewer")
    env = {"DETECTOR_STATE_DIR": str(tmp_path), "DATABASE_URL": "", "DETECTOR_API_KEYS": "",
           "DETECTOR_API_KEYS_FILE": "", "DETECTOR_TRUST_PROXY": "1" if trust else "0",
           "DETECTOR_COOKIE_SECURE": "0"}  # fmt: skip
    forged = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"}
    with Server(None, None, env) as server:  # the workbench only: it starts in seconds
        url = f"{server.url}/v1/session"
        wrong = httpx.post(url, json={"username": "rita", "password": "wrong guess!"},
                           headers=forged)  # fmt: skip
        right = httpx.post(url, json={"username": "rita", "password": password}, headers=forged)
    assert wrong.status_code == 401 and right.status_code == 200, right.text
    with store.session() as s:
        ips = {e.action: e.ip for e in s.scalars(sa.select(AuditEntry))}
    store.dispose()
    assert ips == ({"login_failed": "6.6.6.6", "login": "6.6.6.6"} if trust
                   else {"login_failed": "127.0.0.1", "login": "127.0.0.1"})  # fmt: skip
    cookie = [p.strip().lower() for p in right.headers["set-cookie"].split(";")]
    assert ("secure" in cookie) is trust  # over plain http, Secure only on the proxy's word
