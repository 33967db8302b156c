"""Fixtures shared by the whole suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from detector.simulate import Province, SimConfig, simulate, write_province

#: one small province for the whole session; a fixed seed everywhere randomness enters
SMALL = SimConfig(dossiers=20_000, months=6, seed=11)


@pytest.fixture(scope="session")
def province() -> Province:
    return simulate(SMALL)


@pytest.fixture(scope="session")
def province_dir(province: Province, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small province written to disk: OUT/data/*.csv, OUT/labels.csv, ..."""
    out = tmp_path_factory.mktemp("province")
    write_province(province, out)
    return out


@pytest.fixture(scope="session")
def partial_labels(province_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Labels for the first four of six months only, as the contract allows."""
    d = pd.read_csv(
        province_dir / "data" / "dossiers.csv", dtype=str, usecols=["dossier_id", "submitted_at"]
    )
    early = d[d["submitted_at"].str[:7] <= "2025-10"]["dossier_id"]
    labels = pd.read_csv(province_dir / "labels.csv", dtype=str)
    path = tmp_path_factory.mktemp("labels") / "labels.csv"
    labels[labels["dossier_id"].isin(early)].to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def model_dir(
    province_dir: Path, partial_labels: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Both moments' detectors trained once for the session, through the real command line."""
    out = tmp_path_factory.mktemp("model")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "train",
            str(province_dir / "data"),
            "--labels",
            str(partial_labels),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return out
