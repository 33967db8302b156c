"""Several workers share one history through Redis, and follow each other's reloads."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from server_run import Server
from svc import ADMIN, KEYS, PORTAL, redis_reachable

pytestmark = pytest.mark.slow


def test_two_workers_answer_as_one_history(
    split: dict[str, Any], model_dir: Path, batch_truth: pd.DataFrame, tmp_path: Path
) -> None:
    if not redis_reachable():
        pytest.skip("Redis is not reachable at 127.0.0.1:6379: several workers were not tested")
    env = {
        "DETECTOR_API_KEYS": KEYS,
        "DETECTOR_STATE_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "DETECTOR_REDIS_PREFIX": f"detector-test-{uuid.uuid4().hex[:8]}",
    }
    with Server(split["history"], model_dir, env, "--workers", "2", "--store", "redis") as server:
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline:  # both loaded and answering
            r = httpx.get(f"{server.url}/readyz", headers={"Connection": "close"})
            if r.status_code == 200:
                workers.add(r.json()["worker"])
        assert len(workers) == 2
        # a prefix of the later months, one new connection each: the kernel spreads them over
        # both workers, and each answer must still see every dossier before it
        served_by: set[int] = set()
        bad = []
        for body in split["later"][:300]:
            r = httpx.post(
                f"{server.url}/v1/score", json=body, headers={**PORTAL, "Connection": "close"}
            ).json()
            t = batch_truth.loc[r["dossier_id"]]
            if abs(r["risk_score"] - float(t["risk_score"])) > 1e-9:
                bad.append(r["dossier_id"])
        for _ in range(20):
            served_by.add(
                httpx.get(f"{server.url}/readyz", headers={"Connection": "close"}).json()["worker"]
            )
        assert served_by == workers
        assert not bad, f"{len(bad)} of 300 differ from the batch: {bad[:5]}"
        # a reload asked of one worker reaches the other
        assert (
            httpx.post(
                f"{server.url}/v1/admin/reload", json={}, headers=ADMIN, timeout=120
            ).status_code
            == 200
        )
        reloaded: dict[int, int] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (
            len(reloaded) == 2 and min(reloaded.values()) >= 1
        ):
            ready = httpx.get(f"{server.url}/readyz", headers={"Connection": "close"}).json()
            reloaded[ready["worker"]] = ready["reloads"]
            time.sleep(0.2)
        assert len(reloaded) == 2 and min(reloaded.values()) >= 1, reloaded
        assert httpx.get(f"{server.url}/readyz").json()["live_dossiers"] == 300
