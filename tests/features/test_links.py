"""How the holder relates to the owner, on a hand-made household."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import links, read_dataset
from features.compute import compute_features
from features.links import holder_links, kin_plausible

TZ = "Asia/Ho_Chi_Minh"
# people: a mother M and her son S share household H1; a stranger X in H2; U not in the extract's households
PEOPLE = pd.DataFrame(
    {
        "person_id": [
            "079180000001",
            "079200000002",
            "079085000003",
            "079090000004",
            "079091000005",
        ],
        "full_name": ["M", "S", "X", "O", "G"],
        "birth_date": pd.to_datetime(
            ["1980-01-01", "2000-01-01", "1985-01-01", "1990-01-01", "1991-01-01"]
        ),
        "sex": ["F", "M", "M", "M", "M"],
        "province_code": ["079"] * 5,
        "household_id": ["H1", "H1", "H2", np.nan, "H3"],
        "death_date": pd.to_datetime([None, None, None, None, "2025-01-01"]),
    }
)
M, S, X, O, G = PEOPLE["person_id"]  # noqa: E741 (O is a person, not a zero)
ACCOUNTS = pd.DataFrame(
    {
        "account_id": ["aM", "aS", "aX", "aO"],
        "holder_id": [M, S, X, O],
        "account_type": ["citizen"] * 4,
        "verification_level": [2] * 4,
        "created_at": pd.to_datetime(["2024-01-01"] * 4).tz_localize(TZ),
        "created_ip": [np.nan] * 4,
    }
)


def _tables(
    rows: list[tuple[str, str]], relations=None, mandates=None, staff=None
) -> dict[str, pd.DataFrame]:
    d = pd.DataFrame(
        {
            "dossier_id": [f"d{i}" for i in range(len(rows))],
            "account_id": [r[0] for r in rows],
            "owner_id": [r[1] for r in rows],
        }
    )
    d["procedure_code"] = "1.000001"
    d["unit_id"] = "U1"
    d["submitted_at"] = pd.Timestamp("2025-06-01T09:00", tz=TZ)
    d["authorization_id"] = [r[2] if len(r) > 2 else np.nan for r in rows]
    empty_rel = pd.DataFrame(columns=["person_id", "related_id", "relation"])
    return {
        "dossiers": d,
        "accounts": ACCOUNTS,
        "people": PEOPLE,
        "relations": relations if relations is not None else empty_rel,
        "authorizations": mandates
        if mandates is not None
        else pd.DataFrame(
            columns=[
                "authorization_id",
                "grantor_id",
                "grantee_id",
                "procedure_code",
                "valid_from",
                "valid_to",
            ]
        ),
        "businesses": pd.DataFrame(
            columns=["business_id", "name", "legal_rep_id", "registered_at"]
        ),
        "staff": staff
        if staff is not None
        else pd.DataFrame(
            columns=["staff_id", "person_id", "unit_id", "role", "active_from", "active_to"]
        ),
    }


ALL = frozenset({"people", "relations", "authorizations", "businesses", "staff"})


@pytest.mark.parametrize(
    ("account", "owner", "expected"),
    [
        ("aM", M, "self"),  # her own account
        ("aM", S, "household"),  # mother files for her son, same household
        ("aX", S, "none_known"),  # a stranger with a known household: no link the data would show
        ("aO", S, "unknown"),  # O's household is missing: we cannot say they are unrelated
        (np.nan, S, "not_applicable"),  # a desk filing: no account
    ],
)
def test_holder_relation_separates_no_link_from_unknown(account, owner, expected) -> None:
    out = holder_links(_tables([(account, owner)]), ALL)
    assert out["holder_relation"].iloc[0] == expected


def test_relation_records_are_read_in_either_direction() -> None:
    rel = pd.DataFrame(
        {"person_id": [S], "related_id": [O], "relation": ["child_of"]}
    )  # S is O's child
    out = holder_links(_tables([("aO", S), ("aS", O)], relations=rel), ALL)
    # O is S's parent; S is O's child
    assert out["relation_kind"].tolist() == ["parent", "child"]
    assert out["holder_relation"].tolist() == ["relative", "relative"]


def test_two_step_relations_are_found() -> None:
    # X and O are both G's children: siblings through G, with no record between them
    rel = pd.DataFrame(
        {"person_id": [G, G], "related_id": [X, O], "relation": ["parent_of", "parent_of"]}
    )
    out = holder_links(_tables([("aX", O)], relations=rel), ALL)
    assert bool(out["related_2"].iloc[0]) and out["holder_relation"].iloc[0] == "relative"


def test_mandates_must_cover_the_date_and_procedure() -> None:
    mand = pd.DataFrame(
        {
            "authorization_id": ["m1", "m2"],
            "grantor_id": [S, M],
            "grantee_id": [X, X],
            "procedure_code": [np.nan, "9.999999"],
            "valid_from": pd.to_datetime(["2025-01-01", "2025-01-01"]),
            "valid_to": pd.to_datetime([None, None]),
        }
    )
    out = holder_links(
        _tables([("aX", S, "m1"), ("aX", M, "m2"), ("aX", M, "nope")], mandates=mand), ALL
    )
    assert out["mandate_status"].tolist() == ["valid", "other_procedure", "other_procedure"]
    assert out["claim_status"].tolist() == ["valid", "other_procedure", "unknown_id"]
    assert out["holder_relation"].tolist()[0] == "mandate"


def test_staff_of_the_receiving_unit() -> None:
    staff = pd.DataFrame(
        {
            "staff_id": ["s1"],
            "person_id": [X],
            "unit_id": ["U1"],
            "role": ["one_stop_officer"],
            "active_from": pd.to_datetime(["2020-01-01"]),
            "active_to": pd.to_datetime([None]),
        }
    )
    out = holder_links(_tables([("aX", S)], staff=staff), ALL)
    assert out["holder_relation"].iloc[0] == "staff_same_unit"
    assert bool(out["holder_staff_same_unit"].iloc[0])


@pytest.mark.parametrize(
    ("role", "ended", "expected"),
    [
        # X helps S at the community hall on 2025-06-01; the commune's roster dropped X in
        # January: the teams are volunteers whose rosters lag, so X still reads as a team member
        ("community_digital_team", "2025-01-15", "community_team"),
        ("community_digital_team", "2025-05-31", "community_team"),
        # dropped more than a year before: X is a stranger again (the data would show a link)
        ("community_digital_team", "2024-05-01", "none_known"),
        # an officer's post that ended gives no such grace: X is no longer staff
        ("one_stop_officer", "2025-05-31", "none_known"),
    ],
)
def test_a_team_member_whose_roster_entry_lapsed_within_a_year_still_helps(
    role, ended, expected
) -> None:
    staff = pd.DataFrame(
        {
            "staff_id": ["s1"],
            "person_id": [X],
            "unit_id": ["U2"],
            "role": [role],
            "active_from": pd.to_datetime(["2020-01-01"]),
            "active_to": pd.to_datetime([ended]),
        }
    )
    out = holder_links(_tables([("aX", S)], staff=staff), ALL)
    assert out["holder_relation"].iloc[0] == expected
    # read as team help only through the grace: said beside the score as a data gap
    assert bool(out["holder_team_lapsed"].iloc[0]) == (expected == "community_team")


def test_deceased_owner_is_known_only_from_the_extract() -> None:
    out = holder_links(_tables([("aX", G), ("aX", S)]), ALL)
    assert out["owner_deceased"].tolist() == [True, False]
    assert out["days_since_owner_death"].iloc[0] == 151
    without = holder_links(_tables([("aX", G)]), ALL - {"people"})
    assert pd.isna(without["owner_deceased"].iloc[0])  # no extract: unknown, not "alive"


# an elderly owner E (born 1948, 77 at filing) in her own household, and a child K (born
# 2015): no relation record ties them to anyone, since civil-status links are partly shared
ELDER_KID = pd.DataFrame(
    {
        "person_id": ["079048000006", "079215000007"],
        "full_name": ["E", "K"],
        "birth_date": pd.to_datetime(["1948-03-01", "2015-05-01"]),
        "sex": ["F", "M"],
        "province_code": ["079"] * 2,
        "household_id": ["H4", "H5"],
        "death_date": pd.to_datetime([None, None]),
    }
)
E, K = ELDER_KID["person_id"]


@pytest.mark.parametrize(
    ("account", "owner", "expected"),
    [
        ("aM", E, "unknown"),  # 45, files for a 77-year-old: could be her daughter
        ("aX", E, "unknown"),  # 40 and 77: a generation apart too
        ("aX", K, "unknown"),  # 40, files for a 10-year-old: could be his father
        ("aS", E, "unknown"),  # 25 and 77: could be her grandchild
        ("aS", K, "none_known"),  # 25 and 10: too close for a parent
        ("aX", S, "none_known"),  # 40 and 25: an adult owner, nobody files for them by default
    ],
)
def test_no_record_between_generations_is_not_proof_of_no_relation(
    account, owner, expected
) -> None:
    tables = _tables([(account, owner)])
    tables["people"] = pd.concat([PEOPLE, ELDER_KID], ignore_index=True)
    out = holder_links(tables, ALL)
    assert out["holder_relation"].iloc[0] == expected


@pytest.mark.parametrize(
    ("owner_age", "holder_age", "plausible"),
    [
        (90.7, 38.7, True),  # a grandchild filing for a 90-year-old (bench H1: was flagged)
        (77, 45, True),  # a child
        (77, 70, False),  # a spouse or sibling is not the generation gap (their records say so)
        (59, 30, False),  # not elderly: nobody files for them by default
        (10, 40, True),  # a parent
        (10, 85, False),  # 75 years: past two generations
        (float("nan"), 40, False),  # an unknown age is no reason
    ],
)
def test_kin_is_one_or_two_generations_apart(
    owner_age: float, holder_age: float, plausible: bool
) -> None:
    assert bool(kin_plausible(owner_age, holder_age)) is plausible


@pytest.mark.slow
def test_on_a_simulated_province_the_grace_changes_team_help_and_no_misuse(
    province_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator's team members help on after their roster entry ends (3 % of staff posts).

    With the grace their assisted filings read as team help, and their accounts'
    help stops counting as filings for unlinked owners (what a broker's account
    shows). No misuse dossier's holder link or account history changes:
    brokers, borrowed and taken-over accounts are not on a team roster. (A
    device, IP or phone shared with team help may count one unlinked owner
    fewer; on this province none is.)
    """
    ds = read_dataset(province_dir / "data")
    scenario = pd.read_csv(province_dir / "scenarios.csv", dtype=str).set_index("dossier_id")
    s = scenario["scenario"].reindex(ds.tables["dossiers"]["dossier_id"]).to_numpy(dtype=str)
    computed = compute_features(ds.tables, ds.present, "review")
    now = computed.frame
    monkeypatch.setattr(links, "TEAM_GRACE_DAYS", 0)
    before = compute_features(ds.tables, ds.present, "review").frame
    team = now["holder_relation"].eq("community_team").to_numpy()
    regained = team & before["holder_relation"].ne("community_team").to_numpy()
    assert (regained & (s == "assisted")).sum() > 0
    assert (regained <= (s == "assisted")).all()  # only team help changes its reading
    col = "acct_new_unlinked_owners_365d"
    assert (now[col].to_numpy()[regained] < before[col].to_numpy()[regained]).any()
    # each reading that rests on the grace says so beside the score (one post per person here)
    said = computed.data_gaps.str.contains("team_roster_lapsed").to_numpy()
    assert (said == regained).all()
    misuse = np.char.startswith(s, "misuse_") | np.char.startswith(s, "officer_proxy")
    assert misuse.sum() > 100
    own = [c for c in now.columns if not c.startswith(("ip_", "dev_", "phone_"))]
    pd.testing.assert_frame_equal(now.loc[misuse, own], before.loc[misuse, own])
    assert now[misuse].equals(before[misuse])
