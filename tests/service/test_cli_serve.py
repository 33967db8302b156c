"""``detector serve`` and ``detector api-key`` from the command line: clear refusals, one line each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_run import Server
from svc import KEYS, PORTAL

from service.auth import KeyRing


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
    with Server(split["history"], model_dir, env) as server:
        r = httpx.post(f"{server.url}/v1/score", json=split["later"][0], headers=PORTAL, timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "scored"
        assert httpx.get(f"{server.url}/readyz").json()["live_dossiers"] == 1
    assert (tmp_path / "detector.db").exists()  # the durable log went to the state folder
