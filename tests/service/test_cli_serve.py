"""``detector serve`` and ``detector api-key`` from the command line: clear refusals, one line
each; what the real server believes of the headers a client sends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from server_run import Server
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
