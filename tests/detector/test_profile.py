"""A province's unlabelled data, measured; and provinces simulated around the measurements.

A province is simulated with settings far from the defaults, read back
through the contract reader, and :func:`measure` must find those settings
again from its data alone (no labels, no scenarios).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from detector.profile import MISUSE_SCENARIOS, measure, provinces_like
from detector.simulate import DEFAULT_SHARES, SimConfig, simulate, write_province
from features import read_dataset

KNOBS = dict(
    relations_missing=0.6,
    households_missing=0.3,
    people_missing=0.1,
    networks_missing=0.4,
    absent_tables=("counter_visits",),
)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    shares = dict(DEFAULT_SHARES)
    shares["counter"] += 0.10  # a less online province
    shares["self_online"] -= 0.10
    cfg = SimConfig(dossiers=12_000, months=4, seed=8, shares=shares, **KNOBS)  # type: ignore[arg-type]
    out = tmp_path_factory.mktemp("profiled")
    province = simulate(cfg)
    write_province(province, out, fmt="parquet")
    units = province.tables["units"]
    return measure(read_dataset(out / "data")), float(units["office_networks"].isna().mean())


def test_the_export_settings_are_found_again(measured) -> None:  # type: ignore[no-untyped-def]
    measured, networks_missing = measured
    assert measured.relations_missing == pytest.approx(0.6, abs=0.08)
    assert measured.households_missing == pytest.approx(0.3, abs=0.03)
    assert measured.people_missing == pytest.approx(0.1, abs=0.03)
    # a handful of units: the share the export holds, whatever the setting drew
    assert measured.networks_missing == pytest.approx(networks_missing)
    assert measured.absent_tables == ("counter_visits",)
    assert measured.online_share == pytest.approx(0.74, abs=0.03)
    assert measured.months == 4 and 11_000 < measured.dossiers <= 12_000


def test_simulated_provinces_keep_what_was_measured_and_draw_the_rest(measured) -> None:  # type: ignore[no-untyped-def]
    measured, _ = measured
    configs = provinces_like(measured, 5, seed=3)
    assert len({c.seed for c in configs}) == 5
    for cfg in configs:
        cfg.check()  # valid settings, shares adding up to one
        assert cfg.absent_tables == ("counter_visits",)
        assert abs(cfg.relations_missing - measured.relations_missing) <= 0.15
        assert cfg.months == measured.months
    # what cannot be measured differs from one simulated province to the next
    misuse = [sum(c.shares[k] for k in MISUSE_SCENARIOS) for c in configs]
    assert max(misuse) > 2 * min(misuse)
    assert len({round(c.broker_stealth, 3) for c in configs}) == 5
    # and the same seed gives the same provinces
    assert provinces_like(measured, 5, seed=3) == configs
    assert provinces_like(replace(measured, dossiers=10**7), 1)[0].dossiers == 60_000


def test_a_province_without_optional_tables_is_measured_with_defaults(tmp_path: Path) -> None:
    cfg = SimConfig(dossiers=3000, months=2, seed=9, absent_tables=("people", "relations", "units"))
    write_province(simulate(cfg), tmp_path, fmt="parquet")
    profile = measure(read_dataset(tmp_path / "data"))
    assert set(profile.absent_tables) >= {"people", "relations", "units"}
    base = SimConfig()
    assert profile.relations_missing == base.relations_missing
    assert profile.people_missing == base.people_missing
