"""The single-dossier path of :class:`features.online.ReferenceIndex`: right, fast, robust.

``test_registry_parity.py`` proves, declaration by declaration, that it
agrees with the batch on a whole simulated province; here more combinations
of absent tables (slow), hand-made cases showing the tricky branches give the
right answer, not merely the same one, its speed and its input checks.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hand_made import AN, BINH, CUC, DUNG, Tables
from parity import parity, unknown_keys, without

from features import read_dataset
from features._private import empty_frame
from features.contract import TABLES
from features.links import holder_links
from features.online import ReferenceIndex


@pytest.fixture(scope="module")
def ds(province_dir: Path) -> Any:
    return read_dataset(province_dir / "data")


@pytest.mark.parametrize(
    "absent",
    [
        pytest.param(("people",), marks=pytest.mark.slow),
        pytest.param(("businesses", "staff", "units"), marks=pytest.mark.slow),
        pytest.param(("relations", "authorizations", "counter_visits"), marks=pytest.mark.slow),
    ],
)
def test_static_features_match_the_batch_with_tables_absent(
    ds: Any, absent: tuple[str, ...]
) -> None:
    tables, present = without(ds, absent)
    assert parity(tables, present) == []


def test_the_unknown_keys_and_odd_records_are_really_there(ds: Any) -> None:
    # test_registry_parity checks both paths agree on them; this checks they are there
    tables = unknown_keys(ds)
    # the odd cases are really there: pandas matched the unknown holder of desk filings
    # with the staff post and the mandates whose person is unknown
    links = holder_links(tables, ds.present)
    no_holder = links["holder_id"].isna()
    assert (no_holder & links["holder_staff_role"].ne("none")).sum() > 100
    assert (no_holder & links["mandate_status"].eq("valid")).sum() > 10
    assert tables["dossiers"]["owner_id"].isna().sum() > 100


def test_time_per_dossier(ds: Any, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    index = ReferenceIndex.from_tables(ds.tables, ds.present)
    built = time.perf_counter() - started
    rows = ds.tables["dossiers"].to_dict("records")
    first = [index.dossier(row) for row in rows]  # cold: office-network answers not cached yet
    spent = []
    for row in rows:
        started = time.perf_counter_ns()
        index.dossier(row)
        spent.append(time.perf_counter_ns() - started)
    again = [index.dossier(row) for row in rows]
    with capsys.disabled():
        print(
            f"\nonline static features: index built in {built:.2f} s for {len(rows)} dossiers' "
            f"tables; per dossier median {statistics.median(spent) / 1000:.1f} µs, "
            f"p99 {np.percentile(spent, 99) / 1000:.1f} µs"
        )
    # the cache of office-network answers changes no answer
    assert [repr(r) for r in first] == [repr(r) for r in again]


# ------------------------------------------------------------------ hand-made cases

#: a dossier template: An files online through his own account A1 (BASE's D1)
_TEMPLATE = {
    "procedure_code": "1.001193", "unit_id": "U1", "channel": "online",
    "submitted_at": "2025-03-14T10:00:00+07:00", "synced_at": "", "account_id": "A1",
    "owner_id": AN, "owner_name": "", "declared_relation": "", "authorization_id": "",
    "contact_phone": "", "contact_email": "", "ip": "113.161.1.10", "device_id": "dev-9",
    "attachment_kind": "digital", "payer_token": "", "received_by": "", "accepted_at": "",
}  # fmt: skip


def _world(
    tables: Tables, folder_of: Any, cases: dict[str, dict[str, str]]
) -> tuple[Any, dict[str, dict[str, object]]]:
    """BASE plus one dossier per case; returns the dataset and each case's online features."""
    tables["dossiers"] += [{**_TEMPLATE, "dossier_id": k, **v} for k, v in cases.items()]
    hm = read_dataset(folder_of(tables))
    assert parity(hm.tables, hm.present) == []  # the right answer is also the batch's
    index = ReferenceIndex.from_tables(hm.tables, hm.present)
    d = hm.tables["dossiers"].set_index("dossier_id", drop=False)
    return hm, {k: {**index.dossier(d.loc[k].to_dict()).static} for k in cases}


def test_claimed_mandate_must_name_the_owner_and_the_holder(tables: Tables, folder_of: Any) -> None:
    # M1: Bình mandates An (any procedure, 2024-01-01 .. 2026-01-01)
    _, f = _world(
        tables,
        folder_of,
        {
            "ok": {"owner_id": BINH, "authorization_id": "M1"},  # An for Bình, as granted
            "cuc": {"owner_id": CUC, "authorization_id": "M1"},  # Bình's mandate, used for Cúc
            "dung": {"account_id": "A3", "owner_id": BINH, "authorization_id": "M1"},  # not An
            # at the desk there is no holder: only the grantor can be checked
            "desk": {
                "account_id": "",
                "channel": "counter",
                "owner_id": BINH,
                "authorization_id": "M1",
            },
            "late": {
                "owner_id": BINH,
                "authorization_id": "M1",
                "submitted_at": "2026-02-01T09:00:00+07:00",
            },
            "nope": {"owner_id": BINH, "authorization_id": "M404"},
        },
    )
    assert {k: v["claim_status"] for k, v in f.items()} == {
        "ok": "valid", "cuc": "wrong_parties", "dung": "wrong_parties",
        "desk": "valid", "late": "expired", "nope": "unknown_id",
    }  # fmt: skip
    # the registered mandate from Bình to An holds whatever the claim says
    assert f["nope"]["mandate_status"] == "valid" and f["nope"]["holder_relation"] == "mandate"
    assert f["cuc"]["mandate_status"] == "none"
    assert f["cuc"]["holder_relation"] == "household"  # An and Cúc share H1, a valid reason


def test_relatives_through_one_intermediate(tables: Tables, folder_of: Any) -> None:
    # Dũng is An's sibling, An is Cúc's parent: Dũng is Cúc's uncle, with no record between them
    tables["relations"].append({"person_id": DUNG, "related_id": AN, "relation": "sibling"})
    _, f = _world(
        tables,
        folder_of,
        {
            "uncle": {"account_id": "A3", "owner_id": CUC},
            "brother": {"account_id": "A3", "owner_id": AN},  # direct, read the other way
        },
    )
    uncle, brother = f["uncle"], f["brother"]
    assert uncle["related_2"] == 1.0 and uncle["relation_kind"] != uncle["relation_kind"]  # NaN
    # a relative comes before being staff (Dũng is an officer) in the priority order
    assert (
        uncle["holder_relation"] == "relative" and uncle["holder_staff_role"] == "one_stop_officer"
    )
    assert brother["relation_kind"] == "sibling" and brother["related_2"] == 0.0


def test_deceased_owner(tables: Tables, folder_of: Any) -> None:
    tables["people"][1]["death_date"] = "2025-01-01"  # Bình
    _, f = _world(
        tables,
        folder_of,
        {
            "after": {"owner_id": BINH, "submitted_at": "2025-03-14T10:00:00+07:00"},
            # 00:30 local on Jan 2 is still Jan 1 in UTC: the local day counts
            "next_day": {"owner_id": BINH, "submitted_at": "2025-01-02T00:30:00+07:00"},
            "same_day": {"owner_id": BINH, "submitted_at": "2025-01-01T23:00:00+07:00"},
        },
    )
    assert f["after"]["owner_deceased"] == 1.0
    assert f["after"]["days_since_owner_death"] == 31 + 28 + 13  # Jan 1 -> Mar 14
    assert f["next_day"]["owner_deceased"] == 1.0 and f["next_day"]["days_since_owner_death"] == 1
    assert f["same_day"]["owner_deceased"] == 0.0  # died that day, not before it


def test_staff_of_another_unit_and_of_the_receiving_unit(tables: Tables, folder_of: Any) -> None:
    # Dũng is a one-stop officer of U2 since 2020; he files for Bình (no relation)
    tables["staff"].append(
        {"staff_id": "S2", "person_id": DUNG, "unit_id": "U1", "role": "manager",
         "active_from": "2020-01-01", "active_to": "2024-12-31"}
    )  # fmt: skip
    _, f = _world(
        tables,
        folder_of,
        {
            "other": {"account_id": "A3", "owner_id": BINH, "unit_id": "U1"},
            "same": {"account_id": "A3", "owner_id": BINH, "unit_id": "U2"},
            # in 2024 he was also a manager at U1: the post at the receiving unit wins
            "then": {"account_id": "A3", "owner_id": BINH, "unit_id": "U1",
                     "submitted_at": "2024-06-03T10:00:00+07:00"},
        },
    )  # fmt: skip
    assert f["other"]["holder_relation"] == "staff_other_unit"
    assert f["other"]["holder_staff_role"] == "one_stop_officer"
    assert f["other"]["holder_staff_same_unit"] == 0.0
    assert f["same"]["holder_relation"] == "staff_same_unit"
    assert (
        f["then"]["holder_staff_role"] == "manager" and f["then"]["holder_staff_same_unit"] == 1.0
    )


def test_ip_inside_a_units_office_network(tables: Tables, folder_of: Any) -> None:
    # U1: 10.20.0.0/16; U2: 10.30.0.0/24 and 2001:db8::/32; A3 was created from 10.30.0.7
    hm, f = _world(
        tables,
        folder_of,
        {
            "u2_at_u1": {"ip": "10.30.0.9", "unit_id": "U1"},
            "u2_at_u2": {"ip": "10.30.0.9", "unit_id": "U2"},
            "v6": {"ip": "2001:db8::1", "unit_id": "U2"},
            "outside": {"ip": "10.31.0.1", "unit_id": "U2"},
            "a3": {"account_id": "A3", "ip": "", "unit_id": "U2"},
        },
    )
    pairs = {
        k: (v["ip_in_unit_network"], v["ip_in_office_network"]) for k, v in f.items() if k != "a3"
    }
    assert pairs == {
        "u2_at_u1": (0.0, 1.0), "u2_at_u2": (1.0, 1.0), "v6": (1.0, 1.0), "outside": (0.0, 0.0)
    }  # fmt: skip
    assert f["a3"]["acct_created_in_office_network"] == 1.0
    assert f["a3"]["ip_in_office_network"] != f["a3"]["ip_in_office_network"]  # no IP: unknown
    index = ReferenceIndex.from_tables(hm.tables, hm.present)
    row = hm.tables["dossiers"].set_index("dossier_id").loc["a3"].to_dict()
    assert "ip_missing" in index.dossier(row).gaps


def test_owner_at_the_desk_before_filing(tables: Tables, folder_of: Any) -> None:
    # Bình came to U2's desk at 08:00 on 2025-03-14
    _, f = _world(
        tables,
        folder_of,
        {
            "after": {"owner_id": BINH, "unit_id": "U2", "submitted_at": "2025-03-14T08:30:00+07:00"},
            "before": {"owner_id": BINH, "unit_id": "U2", "submitted_at": "2025-03-14T07:30:00+07:00"},
            "elsewhere": {"owner_id": BINH, "unit_id": "U1", "submitted_at": "2025-03-14T08:30:00+07:00"},
            "no_owner": {"owner_id": "", "unit_id": "U2", "submitted_at": "2025-03-14T08:30:00+07:00"},
        },
    )  # fmt: skip
    assert {k: v["owner_at_desk_today"] for k, v in f.items() if k != "no_owner"} == {
        "after": 1.0, "before": 0.0, "elsewhere": 0.0
    }  # fmt: skip
    assert pd.isna(f["no_owner"]["owner_at_desk_today"])


def test_a_timestamp_is_required() -> None:
    index = ReferenceIndex.from_tables(
        {name: empty_frame(table) for name, table in TABLES.items()}, frozenset()
    )
    for bad in (pd.NaT, None, pd.Timestamp("2025-03-14T10:00")):  # the last one is naive
        with pytest.raises(ValueError, match="submitted_at: expected a tz-aware timestamp"):
            index.dossier({"submitted_at": bad})


def test_unknown_text_may_come_as_none(ds: Any) -> None:
    # the API's normaliser may say None where the reader's frame says NaN
    index = ReferenceIndex.from_tables(ds.tables, ds.present)
    rows = ds.tables["dossiers"].iloc[:2000].to_dict("records")
    as_none = [{k: None if v is np.nan or v != v else v for k, v in r.items()} for r in rows]
    assert sum(v is None for r in as_none for v in r.values()) > 1000
    assert [repr(index.dossier(r)) for r in as_none] == [repr(index.dossier(r)) for r in rows]
