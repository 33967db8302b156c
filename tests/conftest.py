"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

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
