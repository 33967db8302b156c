"""Fixtures of the service tests: a province split into history and later months, apps, stores.

The data folder the API starts from holds the reference tables and the
dossiers submitted before :data:`CUTOFF`; the later dossiers are sent to the
API as the portal would send them (the exported rows, dirt included), in
submission order. The batch scorer over the whole folder (``--at
submission``) is the truth they are compared with.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from svc import (
    CUTOFF,
    POSTGRES_URL,
    postgres_reachable,
    redis_reachable,
    settings_for,
)

from features import read_dataset
from service.app import create_app


@pytest.fixture(scope="session")
def split(province_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """History folder, the later dossiers as raw request bodies in submission order, the truth.

    Returns a dict with ``history`` (data folder), ``later`` (list of request
    bodies), ``fallback`` (dossier IDs whose submitted_at the reader took from
    synced_at: they are sent with that time, as the batch used it),
    ``repeats`` (later duplicate rows: sent after their first, they must get
    the same answer), ``refused`` (later rows whose channel is none of the
    contract's three: the API refuses them with 422, so they never join its
    history) and ``served`` (the whole data folder without the refused rows:
    what the batch must read to see the history the API saw).
    """
    data = province_dir / "data"
    ds = read_dataset(data)
    d = ds.tables["dossiers"]
    early = set(
        d.loc[d["submitted_at"] < pd.Timestamp(CUTOFF, tz="Asia/Ho_Chi_Minh"), "dossier_id"]
    )
    raw = pd.read_csv(data / "dossiers.csv", dtype=str, keep_default_na=False)
    history = tmp_path_factory.mktemp("history")
    for f in data.iterdir():
        if f.name != "dossiers.csv":
            shutil.copy(f, history / f.name)
    raw[raw["dossier_id"].str.strip().isin(early)].to_csv(history / "dossiers.csv", index=False)
    # the kept rows, by record number, in the batch's submission order (stable: file order on ties)
    kept = d[~d["dossier_id"].isin(early)].sort_values("submitted_at", kind="stable")
    fallback: set[str] = set()
    bodies = []
    used = set()
    for rec, row in kept.iterrows():
        body = {k: (v if v != "" else None) for k, v in raw.loc[rec].items()}
        parsed = row["submitted_at"]
        if body["submitted_at"] is None or _unusable_time(body["submitted_at"]):
            body["submitted_at"] = parsed.isoformat()  # the reader's fallback: synced_at
            fallback.add(row["dossier_id"])
        bodies.append(body)
        used.add(rec)
    refused = [b for b in bodies if _unknown_channel(b.get("channel"))]
    bodies = [b for b in bodies if not _unknown_channel(b.get("channel"))]
    later_ids = {str(b["dossier_id"]).strip() for b in bodies}
    served = tmp_path_factory.mktemp("served")
    for f in data.iterdir():
        if f.name != "dossiers.csv":
            shutil.copy(f, served / f.name)
    gone = {str(b["dossier_id"]).strip() for b in refused}
    raw[~raw["dossier_id"].str.strip().isin(gone)].to_csv(served / "dossiers.csv", index=False)
    repeats = [
        {k: (v if v != "" else None) for k, v in r.items()}
        for rec, r in raw.iterrows()
        if rec not in used and str(r["dossier_id"]).strip() in later_ids
    ]
    return {
        "history": history,
        "later": bodies,
        "fallback": fallback,
        "repeats": repeats,
        "refused": refused,
        "served": served,
    }


def _unknown_channel(value: object) -> bool:
    from features.contract import CHANNELS
    from features.normalise import normalise_enum

    values, _ = normalise_enum(pd.Series([value], dtype="str"), CHANNELS)
    return bool(pd.isna(values.iloc[0]))


def _unusable_time(text: str) -> bool:
    from features.normalise import parse_timestamps

    values, _, bad = parse_timestamps(pd.Series([text], dtype="str"))
    return bool(bad.iloc[0]) or pd.isna(values.iloc[0])


@pytest.fixture(scope="session")
def batch_truth(
    split: dict[str, Any], model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> pd.DataFrame:
    """``detector score --at submission --details`` over the served folder, later months only.

    The served folder is the whole one without the later rows the API refuses.
    """
    out = tmp_path_factory.mktemp("truth") / "scores.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "score",
            str(split["served"]),
            "--model",
            str(model_dir),
            "--out",
            str(out),
            "--at",
            "submission",
            "--since",
            CUTOFF,
            "--details",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return pd.read_csv(out, dtype={"dossier_id": str}, keep_default_na=False).set_index(
        "dossier_id"
    )


@pytest.fixture(scope="module", params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    if request.param == "redis" and not redis_reachable():
        pytest.skip("Redis is not reachable at 127.0.0.1:6379: the Redis store was not tested")
    return str(request.param)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (the default SQLite file) or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("database_url_pg"))


@pytest.fixture(scope="module")
def client(
    split: dict[str, Any], model_dir: Path, tmp_path_factory: pytest.TempPathFactory, store: str
) -> Iterator[TestClient]:
    """The app on the history folder, memory or Redis store, SQLite log, started for real.

    One per module and store (start-up reads the folder); tests use distinct dossiers.
    """
    settings = settings_for(split["history"], model_dir, tmp_path_factory.mktemp("state"), store)
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    eng = app.state.engine
    if eng is not None and store == "redis":
        eng.scorer.live.clear()


@pytest.fixture
def database_url_pg() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test (skips, saying so, when PostgreSQL is not reachable)."""
    if not postgres_reachable():
        pytest.skip(
            "PostgreSQL is not reachable at 127.0.0.1:5432: the PostgreSQL log was not tested"
        )
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
