"""A simulated nation (``detector simulate --provinces K``): written province by
province as parts, IDs unique across provinces, brokers working across them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from cli_run import run_cli

from detector.simulate import SimConfig
from detector.simulate.nation import MIN_PER_PROVINCE, plan, simulate_nation
from features import read_dataset
from features.contract import TABLES
from features.errors import UsageError

#: three provinces, 6,000 dossiers in all over a quarter: small, and enough for a broker of
#: the first province to take over a broker of each later one
SMALL = SimConfig(dossiers=6000, months=3, seed=11)

#: each table's key and the ID columns that must never repeat across provinces
KEYS = {
    "people": ["person_id", "household_id"],
    "accounts": ["account_id"],
    "units": ["unit_id", "office_networks"],
    "staff": ["staff_id"],
    "businesses": ["business_id"],
    "authorizations": ["authorization_id"],
    "counter_visits": ["visit_id"],
    "dossiers": ["dossier_id"],
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _parts(data: Path, table: str) -> pd.DataFrame:
    """A table's parts stacked, with the province (``p01``, ...) of each row."""
    return pd.concat(
        [
            pd.read_parquet(f).assign(province=f.name[:3])
            for f in sorted((data / table).glob("*.parquet"))
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def nation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nation")
    simulate_nation(SMALL, 3, out, fmt="parquet")
    return out


@pytest.fixture(scope="module")
def dossiers(nation: Path) -> pd.DataFrame:
    """Every dossier row with its province and scenario."""
    scenarios = pd.read_csv(nation / "scenarios.csv", dtype=str)
    return _parts(nation / "data", "dossiers").merge(scenarios, on="dossier_id")


def test_every_table_is_a_folder_of_one_part_per_province(nation: Path) -> None:
    data = nation / "data"
    assert sorted(p.name for p in data.iterdir()) == sorted(TABLES)
    for table in TABLES:
        names = sorted(p.name for p in (data / table).iterdir())
        if table == "dossiers":
            months = [f"p{i:02d}-2025-{m:02d}.parquet" for i in (1, 2, 3) for m in (7, 8, 9)]
            assert set(months) <= set(names), names
            assert set(names) - set(months) <= {f"p{i:02d}-undated.parquet" for i in (1, 2, 3)}
        else:
            assert names == ["p01.parquet", "p02.parquet", "p03.parquet"], table


def test_labels_and_manifest_cover_every_province(nation: Path) -> None:
    labels = pd.read_csv(nation / "labels.csv", dtype=str)
    manifest = json.loads((nation / "manifest.json").read_text())
    assert [p["part"] for p in manifest["per_province"]] == ["p01", "p02", "p03"]
    assert (
        len(labels) == manifest["dossiers"] == sum(p["dossiers"] for p in manifest["per_province"])
    )
    assert labels["dossier_id"].is_unique
    # the plan asked for 6,000; a few filings drawn after an owner's death are dropped
    assert 0.99 * SMALL.dossiers <= len(labels) <= SMALL.dossiers


@pytest.mark.parametrize(("table", "column"), [(t, c) for t, cols in KEYS.items() for c in cols])
def test_ids_never_repeat_across_provinces(nation: Path, table: str, column: str) -> None:
    df = _parts(nation / "data", table)[[column, "province"]].dropna().drop_duplicates()
    assert len(df) > 0
    assert df[column].is_unique, df[df[column].duplicated(keep=False)].head()


def test_citizen_ids_carry_each_province_own_birth_codes(nation: Path) -> None:
    people = _parts(nation / "data", "people")
    assert people["person_id"].str.fullmatch(r"\d{12}").all()
    home = people.groupby("province")["person_id"].agg(lambda s: s.str[:3].value_counts().index[0])
    assert home.to_dict() == {"p01": "051", "p02": "001", "p03": "079"}


def test_the_reader_stacks_the_parts_and_finds_every_dossier(nation: Path) -> None:
    dataset = read_dataset(nation / "data")
    labels = pd.read_csv(nation / "labels.csv", dtype=str)
    assert dataset["dossiers"]["dossier_id"].nunique() == len(labels)
    assert set(dataset["dossiers"]["dossier_id"]) == set(labels["dossier_id"])
    # one row per account, person, unit, ... nation-wide: nothing for the reader to merge
    assert dataset.report.count("conflicting_duplicate") == 0
    assert dataset.report.count("duplicate_row", "accounts") == 0
    assert not dataset.report.has_errors


def test_a_broker_files_for_owners_of_several_provinces(
    nation: Path, dossiers: pd.DataFrame
) -> None:
    people = _parts(nation / "data", "people")[["person_id", "province"]]
    owners = dossiers.merge(
        people.rename(columns={"person_id": "owner_id", "province": "owner_province"}),
        on="owner_id",
    )
    own = owners[owners["scenario"] == "misuse_broker_own"]
    spread = own.groupby("account_id")["owner_province"].nunique()
    assert (spread >= 2).any()
    broker = spread.idxmax()
    # the account is written once, in the first province's part, and every dossier filed
    # through it elsewhere is a broker's (identity_misuse), filed at that province's units
    accounts = _parts(nation / "data", "accounts")
    assert accounts.loc[accounts["account_id"] == broker, "province"].tolist() == ["p01"]
    labels = pd.read_csv(nation / "labels.csv", dtype=str).set_index("dossier_id")["proxy_type"]
    away = owners[(owners["account_id"] == broker) & (owners["province"] != "p01")]
    assert len(away) > 0
    assert set(labels[away["dossier_id"]]) == {"identity_misuse"}
    assert (away["owner_province"] == away["province"]).all()
    units = _parts(nation / "data", "units").set_index("unit_id")["province"]
    assert (units[away["unit_id"]].to_numpy() == away["province"].to_numpy()).all()
    manifest = json.loads((nation / "manifest.json").read_text())
    assert broker in [a for b in manifest["cross_province_brokers"] for a in b["accounts"]]


def test_trails_shared_across_provinces_are_the_national_brokers(dossiers: pd.DataFrame) -> None:
    # outside the first province, an account, device, phone or payment token that also
    # appears in another province is only ever on a broker's dossier
    for column in ("account_id", "device_id", "contact_phone", "payer_token"):
        seen = dossiers[[column, "province"]].dropna().drop_duplicates()
        shared = seen.loc[seen[column].duplicated(keep=False), column]
        rows = dossiers[dossiers[column].isin(shared) & (dossiers["province"] != "p01")]
        assert len(rows) > 0, column  # the national broker's, at least
        assert set(rows["scenario"]) <= {"misuse_broker_own", "misuse_broker_rented"}, column


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    cfg = SimConfig(dossiers=2000, months=2, seed=3)
    simulate_nation(cfg, 2, tmp_path / "a")
    simulate_nation(cfg, 2, tmp_path / "b")
    simulate_nation(SimConfig(dossiers=2000, months=2, seed=4), 2, tmp_path / "c")
    a = _digest(tmp_path / "a")
    assert a == _digest(tmp_path / "b")
    assert a["data/dossiers/p01-2025-07.parquet"] != _digest(tmp_path / "c").get(
        "data/dossiers/p01-2025-07.parquet"
    )


def test_plan_shares_the_dossiers_and_keeps_province_seeds() -> None:
    cfg = SimConfig(dossiers=100_000, seed=7)
    five = plan(cfg, 5)
    assert sum(c.dossiers for c in five) == 100_000
    assert min(c.dossiers for c in five) >= 100_000 * 0.5 / 5
    assert len({c.seed for c in five}) == 5
    # a province's seed does not depend on how many provinces there are
    assert [c.seed for c in plan(cfg, 3)] == [c.seed for c in five[:3]]
    assert [c.province_index for c in five] == list(range(5))


@pytest.mark.parametrize(
    ("provinces", "dossiers", "match"),
    [(0, 10_000, "between 1 and 34"), (35, 100_000, "between 1 and 34"), (4, 1000, "at least")],
)
def test_impossible_nations_are_refused(provinces: int, dossiers: int, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        plan(SimConfig(dossiers=dossiers), provinces)


def test_the_smallest_nation_is_accepted() -> None:
    assert [c.dossiers for c in plan(SimConfig(dossiers=4 * MIN_PER_PROVINCE), 4)] == [400] * 4


def test_cli_writes_a_nation_as_csv_parts_that_read_back(tmp_path: Path) -> None:
    out = tmp_path / "n"
    proc = run_cli(
        "simulate", out, "--dossiers", 1600, "--months", 2, "--provinces", 2,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "parquet is recommended" in proc.stderr
    assert "Hà Nội" in proc.stdout
    assert sorted(p.name for p in (out / "data" / "people").iterdir()) == ["p01.csv", "p02.csv"]
    labels = pd.read_csv(out / "labels.csv", dtype=str)
    dataset = read_dataset(out / "data")
    assert dataset["dossiers"]["dossier_id"].nunique() == len(labels)


def test_a_taken_over_mandate_names_the_national_broker(
    nation: Path, dossiers: pd.DataFrame
) -> None:
    # a broker waving an expired mandate: once a national broker took the local broker's
    # dossiers over, the mandate (kept in the later province's part) names the national broker
    manifest = json.loads((nation / "manifest.json").read_text())
    national = [a for b in manifest["cross_province_brokers"] for a in b["accounts"]]
    away = dossiers[dossiers["account_id"].isin(national) & (dossiers["province"] != "p01")]
    auth = _parts(nation / "data", "authorizations")
    accounts = _parts(nation / "data", "accounts")[["account_id", "holder_id"]]
    waved = away.merge(auth, on="authorization_id", suffixes=("", "_mandate")).merge(
        accounts, on="account_id"
    )
    assert len(waved) > 0
    assert (waved["grantee_id"] == waved["holder_id"]).all()
    assert (waved["province_mandate"] == waved["province"]).all()
