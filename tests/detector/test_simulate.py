"""The simulator: deterministic, in the contract's format, and plausible.

Each typology and each legitimate look-alike is checked for presence and for
the traces the domain says it leaves (docs/domain.md): where it is filed from,
through whose account, when, and with what around it.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.simulate import DEFAULT_SHARES, Province, SimConfig, simulate, write_province
from features import read_dataset
from features.contract import PROXY_TYPES, TABLES

LOCAL = "Asia/Ho_Chi_Minh"


def _ts(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="ISO8601", errors="coerce", utc=True).dt.tz_convert(LOCAL)


@pytest.fixture(scope="module")
def frame(province: Province) -> pd.DataFrame:
    """Dossiers (first copy of each) with their truth and parsed times."""
    d = province.tables["dossiers"].drop_duplicates("dossier_id").copy()
    d = d.merge(province.labels, on="dossier_id").merge(province.scenarios, on="dossier_id")
    d["t"] = _ts(d["submitted_at"])
    d["synced"] = _ts(d["synced_at"])
    d["accepted"] = _ts(d["accepted_at"])
    d["channel"] = d["channel"].str.strip().str.lower()
    acc = province.tables["accounts"]
    d = d.merge(acc[["account_id", "holder_id", "created_at"]], on="account_id", how="left")
    d["created"] = _ts(d["created_at"])
    return d


def _norm(ids: pd.Series) -> pd.Series:
    """Person IDs as the reader normalises them (spaces out, a lost leading zero back)."""
    digits = ids.str.replace(r"\D", "", regex=True)
    return digits.where(digits.str.len() != 11, "0" + digits)


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------ format
def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    cfg = SimConfig(dossiers=3000, months=3, seed=5)
    write_province(simulate(cfg), tmp_path / "a")
    write_province(simulate(cfg), tmp_path / "b")
    write_province(simulate(SimConfig(dossiers=3000, months=3, seed=6)), tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (
        _digest(tmp_path / "a")["data/dossiers.csv"] != _digest(tmp_path / "c")["data/dossiers.csv"]
    )


def test_layout_keeps_labels_outside_the_data_folder(province_dir: Path) -> None:
    data = province_dir / "data"
    assert sorted(p.name for p in data.iterdir()) == sorted(f"{t}.csv" for t in TABLES)
    assert (province_dir / "labels.csv").exists()
    labels = pd.read_csv(province_dir / "labels.csv", dtype=str)
    assert list(labels.columns) == ["dossier_id", "proxy_type"]
    assert not any("proxy_type" in (data / f"{t}.csv").read_text().splitlines()[0] for t in TABLES)


def test_parquet_output_has_the_same_tables(tmp_path: Path) -> None:
    p = simulate(SimConfig(dossiers=1000, months=2, seed=2))
    data = write_province(p, tmp_path, fmt="parquet")
    assert sorted(x.name for x in data.iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    back = pd.read_parquet(data / "dossiers.parquet")
    assert back["dossier_id"].tolist() == p.tables["dossiers"]["dossier_id"].tolist()


def test_parts_write_the_dossiers_one_file_per_month_and_read_back_the_same(
    tmp_path: Path,
) -> None:
    p = simulate(SimConfig(dossiers=3000, months=3, seed=9))
    whole = read_dataset(write_province(p, tmp_path / "whole", fmt="parquet"))
    data = write_province(p, tmp_path / "parted", fmt="parquet", parts=True)
    assert not (data / "dossiers.parquet").exists()
    names = sorted(f.name for f in (data / "dossiers").iterdir())
    assert names[:3] == ["2025-07.parquet", "2025-08.parquet", "2025-09.parquet"]
    assert set(names[3:]) <= {"undated.parquet"}  # dirt without a month, kept all the same
    parted = read_dataset(data)
    assert parted.report.tables["dossiers"].rows_read == len(p.tables["dossiers"])
    key = ["dossier_id", "submitted_at"]
    pd.testing.assert_frame_equal(
        parted["dossiers"].sort_values(key).reset_index(drop=True),
        whole["dossiers"].sort_values(key).reset_index(drop=True),
    )
    # written again without parts, the folder of parts goes: one dossiers table, never two
    write_province(p, tmp_path / "parted", fmt="parquet")
    assert not (data / "dossiers").exists() and (data / "dossiers.parquet").exists()


def test_every_column_of_the_contract_is_written_as_text(province: Province) -> None:
    for name, spec in TABLES.items():
        df = province.tables[name]
        assert list(df.columns) == spec.column_names, name
        assert len(df) > 0, name


def test_timestamps_carry_the_local_offset(province: Province) -> None:
    sub = province.tables["dossiers"]["submitted_at"].dropna()
    assert sub.str.endswith("+07:00").mean() > 0.995  # the rest is deliberate dirt


# ------------------------------------------------------------------ shares
def test_all_six_proxy_types_at_plausible_shares(province: Province) -> None:
    share = province.labels["proxy_type"].value_counts(normalize=True)
    assert set(share.index) == set(PROXY_TYPES)
    assert 0.65 < share["self"] < 0.85
    assert 0.015 < share["identity_misuse"] < 0.04
    assert 0.01 < share["officer_proxy"] < 0.04
    for legit in ("family", "authorized", "assisted"):
        assert share[legit] > 0.02, legit


def test_every_scenario_and_look_alike_is_present(province: Province) -> None:
    counts = province.scenarios["scenario"].value_counts()
    expected = {k for k, v in DEFAULT_SHARES.items() if v > 0} | {
        "officer_proxy_staff_account",
        "officer_proxy_shared_account",
        "officer_proxy_created_account",
    }
    missing = expected - set(counts.index)
    assert not missing
    assert (counts[list(expected)] >= 5).all()


def test_claimed_online_share_is_calibrated_on_phu_nhuan(province: Province) -> None:
    # Phú Nhuận 2023: 86 % of dossiers online
    assert 0.78 < province.manifest["claimed_online_share"] < 0.90


# ------------------------------------------------------------------ people and accounts
def test_people_have_valid_cccd_numbers(province: Province) -> None:
    p = province.tables["people"]
    ids = p["person_id"]
    assert ids.str.fullmatch(r"0\d{11}").all()
    year = p["birth_date"].str[:4].astype(float)
    ok = year.notna()
    digit = ids.str[3].astype(int)
    expected = np.where(year >= 2000, 2, 0) + (p["sex"] == "F").astype(int)
    agree = (digit[ok] == expected[ok]).mean()
    assert 0.99 < agree < 1.0  # a few sexes were mistyped on purpose
    assert (ids.str[4:6][ok] == p["birth_date"].str[2:4][ok]).all()
    assert ids.is_unique


def test_businesses_have_valid_tax_codes(province: Province) -> None:
    from stdnum.vn import mst

    assert province.tables["businesses"]["business_id"].map(mst.is_valid).all()


def test_no_accounts_for_young_children_and_fewer_for_the_elderly(province: Province) -> None:
    p = province.tables["people"].set_index("person_id")
    acc = province.tables["accounts"]
    holders = acc.loc[acc["account_type"] == "citizen", "holder_id"]
    born = pd.to_datetime(p["birth_date"], errors="coerce")
    age = (pd.Timestamp("2025-07-01") - born).dt.days / 365.25
    has = pd.Series(p.index.isin(holders), index=p.index)
    assert not has[age < 13.9].any()
    assert has[(age >= 25) & (age < 60)].mean() > has[age >= 75].mean() + 0.3


def test_no_account_files_before_it_was_created(frame: pd.DataFrame) -> None:
    known = frame.dropna(subset=["created", "t"])
    assert len(known) > 1000
    assert (known["t"] >= known["created"]).all()


def test_relations_and_households_have_realistic_gaps(province: Province) -> None:
    p = province.tables["people"]
    assert 0.05 < p["household_id"].isna().mean() < 0.2
    rel = province.tables["relations"]
    assert set(rel["relation"]) >= {"spouse", "parent_of", "child_of", "sibling"}


# ------------------------------------------------------------------ typologies
def _in_unit_network(frame: pd.DataFrame, units: pd.DataFrame) -> pd.Series:
    nets = {
        u: [ipaddress.ip_network(c) for c in str(n).split(";")]
        for u, n in zip(units["unit_id"], units["office_networks"], strict=True)
        if pd.notna(n)
    }

    def inside(row: pd.Series) -> bool | None:
        if row["unit_id"] not in nets or pd.isna(row["ip"]):
            return None
        try:
            ip = ipaddress.ip_address(row["ip"])
        except ValueError:
            return None
        return any(ip in n for n in nets[row["unit_id"]])

    return frame.apply(inside, axis=1)


def test_kiosk_self_service_comes_from_the_office_network_on_shared_kiosks(
    frame: pd.DataFrame, province: Province
) -> None:
    k = frame[frame["scenario"] == "self_kiosk"]
    inside = _in_unit_network(k, province.tables["units"]).dropna()
    assert inside.mean() > 0.95
    # a kiosk serves many unrelated owners; the owner is the account holder
    owners_per_device = k.groupby("device_id")["owner_id"].nunique()
    assert owners_per_device.median() >= 5
    assert (k["holder_id"] == k["owner_id"]).mean() > 0.95
    # often with an account created on the spot, minutes before
    fresh = (k["t"] - k["created"]).dt.total_seconds().between(0, 3600)
    assert fresh.mean() > 0.2


def test_officer_proxies_cluster_late_in_the_month_at_units_behind_target(
    frame: pd.DataFrame, province: Province
) -> None:
    op = frame[frame["proxy_type"] == "officer_proxy"]
    counter = frame[frame["channel"] == "counter"]
    assert op["t"].dt.day.mean() > counter["t"].dt.day.mean() + 3
    assert (op["t"].dt.day >= 20).mean() > 0.5
    units = province.tables["units"].set_index("unit_id")
    genuine = (
        frame.assign(g=(frame["channel"] == "online") & (frame["proxy_type"] != "officer_proxy"))
        .groupby("unit_id")["g"]
        .mean()
    )
    gap = units["online_target"].astype(float) - genuine
    assert (gap.reindex(op["unit_id"]) > 0).mean() > 0.9


def test_officer_proxies_leave_desk_traces(frame: pd.DataFrame, province: Province) -> None:
    op = frame[frame["proxy_type"] == "officer_proxy"]
    inside = _in_unit_network(op, province.tables["units"]).dropna()
    assert inside.mean() > 0.95
    assert op["attachment_kind"].eq("scan").mean() > 0.6
    fast = (op["accepted"] - op["t"]).dt.total_seconds() < 20 * 60
    assert fast.mean() > 0.9
    staff = province.tables["staff"]
    staff_people = set(staff["person_id"])
    by_staff = op[op["scenario"] == "officer_proxy_staff_account"]
    assert by_staff["holder_id"].isin(staff_people).mean() > 0.95
    created = op[op["scenario"] == "officer_proxy_created_account"]
    assert (_norm(created["holder_id"]) == _norm(created["owner_id"])).mean() > 0.95
    # made minutes before its first use (creation times are sometimes missing in exports)
    first_use = created.dropna(subset=["created"]).sort_values("t").drop_duplicates("account_id")
    assert (first_use["t"] - first_use["created"]).dt.total_seconds().between(0, 1800).mean() > 0.95
    # the citizen came to the desk that day
    visits = province.tables["counter_visits"].dropna(subset=["person_id"])
    seen = set(zip(visits["person_id"], visits["visited_at"].str[:10], strict=True))
    came = [(o, t[:10]) in seen for o, t in zip(op["owner_id"], op["submitted_at"], strict=True)]
    assert np.mean(came) > 0.5


def test_brokers_file_for_many_unrelated_owners_without_mandates(
    frame: pd.DataFrame, province: Province
) -> None:
    b = frame[frame["scenario"].isin(["misuse_broker_own", "misuse_broker_rented"])]
    per_device = b.groupby("device_id")["owner_id"].nunique()
    assert per_device.median() >= 8
    auths = province.tables["authorizations"].set_index("authorization_id")
    claimed = b["authorization_id"].dropna()
    valid = [
        a in auths.index and (pd.isna(auths.at[a, "valid_to"]) or auths.at[a, "valid_to"] >= t[:10])
        for a, t in zip(claimed, b.loc[claimed.index, "submitted_at"], strict=True)
    ]
    assert not any(valid)  # fake or expired mandates only
    assert (b["holder_id"] != b["owner_id"]).all()


def test_firms_file_for_many_clients_with_mandates(frame: pd.DataFrame, province: Province) -> None:
    f = frame[frame["scenario"] == "authorized_firm"]
    assert f.groupby("device_id")["owner_id"].nunique().median() >= 5
    auths = province.tables["authorizations"]
    with_id = f.dropna(subset=["authorization_id"])
    m = with_id.merge(auths, on="authorization_id", how="left")
    assert (m["grantee_id"] == m["holder_id"]).mean() > 0.9
    assert (m["grantor_id"] == m["owner_id"]).mean() > 0.9


def test_family_filings_are_by_relatives(frame: pd.DataFrame, province: Province) -> None:
    fam = frame[frame["scenario"] == "family_household"]
    p = province.tables["people"].set_index("person_id")
    hh = p["household_id"]
    same = fam["holder_id"].map(hh) == fam["owner_id"].map(hh)
    known = fam["holder_id"].map(hh).notna() & fam["owner_id"].map(hh).notna()
    assert same[known].mean() > 0.97


def test_death_registrations_and_deceased_owners(frame: pd.DataFrame, province: Province) -> None:
    death = province.tables["people"].set_index("person_id")["death_date"]
    reg = frame[frame["scenario"] == "family_death"]
    assert (reg["procedure_code"] == "1.000656").all()
    d = reg["owner_id"].map(death).dropna()
    assert (d <= reg.loc[d.index, "submitted_at"].str[:10]).all()
    dec = frame[frame["scenario"] == "misuse_deceased"]
    d2 = dec["owner_id"].map(death).dropna()
    assert len(d2) > 0.8 * len(dec) - 2
    assert (d2 < dec.loc[d2.index, "submitted_at"].str[:10]).all()
    assert (dec["procedure_code"] != "1.000656").all()


def test_assisted_filings_go_through_community_digital_team(
    frame: pd.DataFrame, province: Province
) -> None:
    a = frame[frame["scenario"] == "assisted"]
    staff = province.tables["staff"]
    team = set(staff.loc[staff["role"] == "community_digital_team", "person_id"])
    # through the member's account, or the owner's account on the member's tablet
    by_member = a["holder_id"].isin(team)
    shared_tablet = a.groupby("device_id")["owner_id"].transform("nunique") >= 3
    assert (by_member | shared_tablet).mean() > 0.95


def test_carrier_nat_addresses_are_shared_by_unrelated_people(frame: pd.DataFrame) -> None:
    s = frame[frame["scenario"] == "self_online"]
    per_ip = s.groupby("ip")["owner_id"].nunique()
    assert per_ip.max() >= 30  # one mobile address, many honest citizens


def test_family_devices_are_shared_within_households(
    frame: pd.DataFrame, province: Province
) -> None:
    hh = province.tables["people"].set_index("person_id")["household_id"]
    s = frame[frame["proxy_type"].isin(["self", "family"]) & frame["device_id"].notna()].copy()
    s["hh"] = s["owner_id"].map(hh)
    multi = s.groupby("device_id")["owner_id"].nunique()
    shared = s[
        s["device_id"].isin(multi[multi >= 2].index)
        & ~s["scenario"].isin(["self_kiosk", "officer_own"])
    ]
    assert shared["device_id"].nunique() > 10
    assert shared.groupby("device_id")["hh"].nunique().median() <= 1


# ------------------------------------------------------------------ timing
def test_counter_dossiers_are_filed_in_office_hours_on_working_days(frame: pd.DataFrame) -> None:
    c = frame[
        (frame["channel"] == "counter") & frame["submitted_at"].str.endswith("+07:00", na=False)
    ]
    minutes = c["t"].dt.hour * 60 + c["t"].dt.minute
    assert minutes.between(450, 1020).all()
    assert (c["t"].dt.day_of_week < 6).all()


def test_online_filings_peak_in_the_portal_rush_hours(frame: pd.DataFrame) -> None:
    o = frame[(frame["scenario"] == "self_online") & frame["t"].notna()]
    minutes = o["t"].dt.hour * 60 + o["t"].dt.minute
    peak = minutes.between(450, 599) | minutes.between(900, 1019)
    # the peaks are 4.5 hours of 24 but take far more than their share
    assert peak.mean() > 0.35


def test_sync_lags_reach_two_to_three_days(frame: pd.DataFrame) -> None:
    o = frame[frame["channel"] == "online"]
    lag = (o["synced"] - o["t"]).dt.total_seconds() / 86400
    lag = lag[lag >= 0]
    assert lag.max() <= 3.0
    assert (lag >= 1.5).mean() > 0.02


# ------------------------------------------------------------------ dirt
def test_export_dirt_is_there(province: Province) -> None:
    d = province.tables["dossiers"]
    assert d["dossier_id"].duplicated().sum() > 20
    assert d["owner_id"].str.contains(" ", na=False).sum() > 10
    assert (d["owner_id"].str.len() == 11).sum() > 10
    names = d["owner_name"].dropna()
    assert names.str.isupper().sum() > 50
    assert (~names.str.contains(r"[^\x00-\x7f]")).mean() > 0.1  # typed without diacritics
    assert (~d["submitted_at"].str.endswith("+07:00", na=True)).sum() > 0
    assert d["channel"].isin(["online", "counter", "postal"]).mean() < 1.0


def test_dirt_zero_gives_a_clean_export() -> None:
    p = simulate(SimConfig(dossiers=2000, months=2, seed=3, dirt=0))
    d = p.tables["dossiers"]
    assert not d["dossier_id"].duplicated().any()
    assert d["channel"].isin(["online", "counter", "postal"]).all()


@pytest.mark.parametrize("bad", [dict(dossiers=10), dict(months=0), dict(dirt=-1)])
def test_impossible_settings_are_refused(bad: dict) -> None:
    from features.errors import UsageError

    with pytest.raises(UsageError, match="must be"):
        SimConfig(**bad).check()


# ------------------------------------------------------------------ settings (issue #10)
def _sim(**knobs: object) -> Province:
    return simulate(SimConfig(dossiers=6000, months=3, seed=21, dirt=0, **knobs))  # type: ignore[arg-type]


def test_export_settings_change_what_the_tables_hold() -> None:
    base = _sim()
    sparse = _sim(relations_missing=0.9, households_missing=0.5, networks_missing=1.0)
    # a tenth of the links kept instead of seven tenths
    ratio = len(sparse.tables["relations"]) / len(base.tables["relations"])
    assert 0.1 < ratio < 0.2
    hh = sparse.tables["people"]["household_id"].isna().mean()
    assert 0.45 < hh < 0.55 and base.tables["people"]["household_id"].isna().mean() < 0.15
    assert sparse.tables["units"]["office_networks"].isna().all()


def test_an_absent_table_is_not_written(tmp_path: Path) -> None:
    p = _sim(absent_tables=("relations", "counter_visits"))
    data = write_province(p, tmp_path)
    assert not (data / "relations.csv").exists() and not (data / "counter_visits.csv").exists()
    assert (data / "people.csv").exists()


def test_stealthier_brokers_and_officers_leave_less_of_their_own_trail() -> None:
    def traces(p: Province) -> tuple[float, float, int]:
        d = p.tables["dossiers"].merge(p.scenarios, on="dossier_id")
        brokers = d[d["scenario"] == "misuse_broker_own"]
        # the broker's own phone: one phone across many owners
        per_phone = brokers.groupby("contact_phone")["owner_id"].nunique()
        shared_phone = float(brokers["contact_phone"].map(per_phone).gt(3).mean())
        officers = d[d["scenario"].str.startswith("officer_proxy")]
        made = float(officers["scenario"].eq("officer_proxy_created_account").mean())
        return shared_phone, made, int(d["scenario"].str.startswith("misuse_broker").sum())

    plain = traces(_sim())
    subtle = traces(_sim(broker_stealth=1.0, officer_stealth=1.0, dossiers_per_broker=20))
    assert plain[0] > 0.5 and subtle[0] < 0.1
    assert subtle[1] > plain[1]
    assert subtle[2] == pytest.approx(plain[2], rel=0.2)  # as much misuse, spread thinner


@pytest.mark.parametrize(
    "bad",
    [dict(relations_missing=1.5), dict(broker_stealth=-0.1), dict(absent_tables=("dossiers",))],
)
def test_impossible_knobs_are_refused(bad: dict) -> None:
    from features.errors import UsageError

    with pytest.raises(UsageError, match=r"must be|expected some of"):
        SimConfig(dossiers=1000, **bad).check()
