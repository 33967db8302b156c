"""Cases by actor (issue #13): grouping, ranking and capacity in cases, on frames built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector._case_capacity import capacity_in_cases
from detector.actors import (
    ACTOR_KINDS,
    CASE_COLUMNS,
    RANK_COLUMNS,
    actor_cases,
    candidate_keys,
    dossier_cases,
    rank_cases,
)
from features import pseudonymiser

HIDE = pseudonymiser(b"test-secret", digest_size=6)
BROKER_ACCOUNT = "ACC-BROKER-0001"
BROKER_PHONE = "0912345678"
OFFICER = "STAFF-0042"

# fmt: off
# (dossier_id, account, device, phone, payer, owner, received_by, unit, submitted, type, risk)
ROWS = [
    # a broker's account files for four unrelated owners (devices differ, one phone)
    ("b1", BROKER_ACCOUNT, "DEV-1", BROKER_PHONE, None, "079095000001", None, "U1", "2025-07-03", "identity_misuse", 0.97),
    ("b2", BROKER_ACCOUNT, "DEV-2", BROKER_PHONE, None, "079095000002", None, "U1", "2025-07-09", "identity_misuse", 0.95),
    ("b3", BROKER_ACCOUNT, "DEV-3", None, "TOK-77", "079095000003", None, "U2", "2025-07-15", "identity_misuse", 0.90),
    ("b4", BROKER_ACCOUNT, "DEV-3", None, "TOK-77", "079095000004", None, "U2", "2025-07-21", "identity_misuse", 0.85),
    # one officer accepts two officer-proxy dossiers typed into two citizens' accounts
    ("o1", "ACC-C1", "DEV-O1", None, None, "079095000011", OFFICER, "U1", "2025-07-04", "officer_proxy", 0.90),
    ("o2", "ACC-C2", "DEV-O2", None, None, "079095000012", OFFICER, "U1", "2025-07-05", "officer_proxy", 0.80),
    # officer proxies with no officer recorded, same unit and month
    ("u1", "ACC-C3", "DEV-U1", None, None, "079095000021", None, "U3", "2025-07-10", "officer_proxy", 0.70),
    ("u2", "ACC-C4", "DEV-U2", None, None, "079095000022", None, "U3", "2025-07-28", "officer_proxy", 0.65),
    # the same unit in the next month: a unit x month of its own, with one dossier
    ("u3", "ACC-C5", "DEV-U3", None, None, "079095000023", None, "U3", "2025-08-02", "officer_proxy", 0.60),
    # a dossier that shares nothing with any other flagged one
    ("s1", "ACC-C6", "DEV-S1", "0987654321", "TOK-99", "079095000031", None, "U1", "2025-07-12", "identity_misuse", 0.55),
    # not flagged: shares the broker's account, yet not in any case by default
    ("n1", BROKER_ACCOUNT, "DEV-9", None, None, "079095000041", None, "U1", "2025-07-13", "self", 0.05),
]
# fmt: on
COLUMNS = [
    "dossier_id",
    "account_id",
    "device_id",
    "contact_phone",
    "payer_token",
    "owner_id",
    "received_by",
    "unit_id",
    "submitted_at",
    "proxy_type",
    "risk_score",
]  # fmt: skip


def frames(rows: list[tuple] = ROWS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The dossiers table and the scored frame (dossier_id as the index, as score_frame gives)."""
    df = pd.DataFrame(rows, columns=COLUMNS)
    dossiers = df.drop(columns=["proxy_type", "risk_score"]).assign(
        submitted_at=pd.to_datetime(df["submitted_at"]).dt.tz_localize("Asia/Ho_Chi_Minh")
    )
    scored = df.set_index("dossier_id")[["risk_score", "proxy_type"]].copy()
    scored["flagged"] = scored["risk_score"] >= 0.5
    # the probabilities split the risk between the predicted misuse type and the other one
    for t in ("identity_misuse", "officer_proxy"):
        scored[f"p_{t}"] = np.where(scored["proxy_type"] == t, scored["risk_score"], 0.0)
    return dossiers, scored


@pytest.fixture
def cases() -> pd.DataFrame:
    dossiers, scored = frames()
    return actor_cases(scored, dossiers, HIDE)


def case_of(cases: pd.DataFrame, dossier_id: str) -> pd.Series:
    return cases.set_index("dossier_id").loc[dossier_id]


def test_a_broker_account_with_many_owners_is_one_case(cases: pd.DataFrame) -> None:
    # b1..b4 share the account (4 owners); b3, b4 also share a device and a token
    # (2 owners each): the account explains all four
    broker = cases[cases["dossier_id"].isin(["b1", "b2", "b3", "b4"])]
    assert broker["case_key"].nunique() == 1
    row = broker.iloc[0]
    assert row["actor_kind"] == "account"
    assert row["case_key"] == f"account:{HIDE(BROKER_ACCOUNT)}"
    assert (row["n_dossiers"], row["n_owners"]) == (4, 4)
    assert row["expected_misuse"] == pytest.approx(0.97 + 0.95 + 0.90 + 0.85)
    assert row["max_risk"] == pytest.approx(0.97)
    assert row["main_type"] == "identity_misuse"


def test_the_resource_with_most_owners_wins_over_the_account() -> None:
    # a broker behind two rented accounts (two owners each) and one device (four owners):
    # the device explains all four dossiers
    # fmt: off
    rows = [
        ("r1", "RENT-A", "BROKER-DEV", None, None, "0790950001", None, "U1", "2025-07-01", "identity_misuse", 0.9),
        ("r2", "RENT-A", "BROKER-DEV", None, None, "0790950002", None, "U1", "2025-07-02", "identity_misuse", 0.9),
        ("r3", "RENT-B", "BROKER-DEV", None, None, "0790950003", None, "U1", "2025-07-03", "identity_misuse", 0.9),
        ("r4", "RENT-B", "BROKER-DEV", None, None, "0790950004", None, "U1", "2025-07-04", "identity_misuse", 0.9),
    ]
    # fmt: on
    dossiers, scored = frames(rows)
    out = actor_cases(scored, dossiers, HIDE)
    assert out["case_key"].unique().tolist() == [f"device:{HIDE('BROKER-DEV')}"]


def test_officer_proxies_group_by_officer_then_by_unit_and_month(cases: pd.DataFrame) -> None:
    officer = cases[cases["dossier_id"].isin(["o1", "o2"])]
    assert officer["case_key"].unique().tolist() == [f"officer:{HIDE(OFFICER)}"]
    unit = cases[cases["dossier_id"].isin(["u1", "u2"])]
    assert unit["case_key"].unique().tolist() == ["unit_month:U3:2025-07"]
    assert unit["actor_label"].iloc[0] == "U3 2025-07"
    # u3 is alone in U3 in August: a case of its own
    assert case_of(cases, "u3")["case_key"] == "dossier:u3"


def test_a_dossier_with_no_shared_actor_stays_single(cases: pd.DataFrame) -> None:
    row = case_of(cases, "s1")
    assert (row["case_key"], row["actor_kind"], row["n_dossiers"]) == ("dossier:s1", "dossier", 1)


def test_every_chosen_dossier_is_in_exactly_one_case(cases: pd.DataFrame) -> None:
    dossiers, scored = frames()
    flagged = set(scored.index[scored["flagged"]])
    assert sorted(cases["dossier_id"]) == sorted(flagged)  # no duplicate, none missing
    assert "n1" not in set(cases["dossier_id"])  # not flagged
    assert list(cases.columns) == CASE_COLUMNS
    assert set(cases["actor_kind"]) <= set(ACTOR_KINDS)
    sizes = cases.groupby("case_key").size()
    assert (cases["n_dossiers"] == cases["case_key"].map(sizes)).all()
    assert cases["case_key"].nunique() == 5  # broker, officer, unit-month, u3, s1
    # choosing every dossier: n1 now joins the broker's account (5 dossiers, 5 owners)
    every = actor_cases(scored, dossiers, HIDE, chosen=np.ones(len(scored), bool))
    assert case_of(every, "n1")["n_dossiers"] == 5


def test_no_personal_value_in_clear_in_case_keys_or_labels(cases: pd.DataFrame) -> None:
    dossiers, _ = frames()
    personal = {
        str(v)
        for c in (
            "account_id",
            "device_id",
            "contact_phone",
            "payer_token",
            "owner_id",
            "received_by",
        )
        for v in dossiers[c].dropna()
    }
    shown = " ".join(cases["case_key"]) + " " + " ".join(cases["actor_label"])
    assert not [v for v in personal if v in shown]
    assert case_of(cases, "b1")["actor_label"] == "*" * (len(BROKER_ACCOUNT) - 2) + "01"


def test_dossier_cases_are_one_per_dossier() -> None:
    _, scored = frames()
    out = dossier_cases(scored)
    assert out["case_key"].is_unique and (out["n_dossiers"] == 1).all()
    assert len(out) == int(scored["flagged"].sum())


def test_ranking_prefers_the_case_with_more_expected_unreviewed_misuse(cases: pd.DataFrame) -> None:
    ranked = rank_cases(cases)
    assert list(ranked.columns) == RANK_COLUMNS
    broker = f"account:{HIDE(BROKER_ACCOUNT)}"
    # the broker's four dossiers (3.67 expected) before the officer's two (1.70)
    assert ranked["case_key"].tolist()[:2] == [broker, f"officer:{HIDE(OFFICER)}"]
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    # once three of the broker's dossiers carry a verdict, only b4 (0.85) is left open
    after = rank_cases(cases, reviewed=["b1", "b2", "b3"]).set_index("case_key")
    assert after.loc[broker, "n_open"] == 1
    assert after.loc[broker, "expected_misuse"] == pytest.approx(0.85)
    assert after["rank"].idxmin() == f"officer:{HIDE(OFFICER)}"
    # fully reviewed cases leave the queue
    done = rank_cases(cases, reviewed=cases["dossier_id"].isin(["b1", "b2", "b3", "b4"]).to_numpy())
    assert broker not in set(done["case_key"])


def test_ranking_breaks_near_ties_towards_what_a_verdict_teaches() -> None:
    # X: one dossier at 0.5 (variance 0.25); Y: two at 0.25 (variance 0.375): same expected misuse
    cases = pd.DataFrame(
        {
            "case_key": ["X", "Y", "Y"],
            "dossier_id": ["x", "y1", "y2"],
            "p_misuse": [0.5, 0.25, 0.25],
        }
    )
    ranked = rank_cases(cases)
    assert ranked["case_key"].tolist() == ["Y", "X"]
    assert ranked["priority"].tolist() == pytest.approx([0.5 + 0.25 * 0.375, 0.5 + 0.25 * 0.25])
    assert rank_cases(cases, teach_weight=0)["priority"].tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="teach_weight"):
        rank_cases(cases, teach_weight=-1)


def test_capacity_in_cases_on_a_tiny_queue() -> None:
    # truth: every flagged dossier is misuse except s1 (a family filing the model got wrong)
    dossiers, scored = frames()
    truth = scored["proxy_type"].where(scored.index != "s1", "family")
    out = capacity_in_cases(scored, dossiers, truth, cases_per_month=2, pseudonymise=HIDE)
    cov = out["coverage"]
    # 10 flagged dossiers, 9 of them misuse; actor cases: broker, officer, U3 July, u3, s1
    assert cov["dossier_cases"] == {
        "cases": 10, "cases_with_misuse": 9, "misuse_flagged": 9, "recall": 1.0
    }  # fmt: skip
    assert (cov["actor_cases"]["cases"], cov["actor_cases"]["cases_with_misuse"]) == (5, 4)
    # July, two dossier cases: b1 (0.97) and b2 (0.95); August: b3 (0.90) and o1 (0.90)
    dc = out["dossier_cases"]
    assert (dc["cases_reviewed"], dc["misuse_confirmed"], dc["actors_confirmed"]) == (4, 4, 2)
    # July, two actor cases: the broker (4 dossiers) and the officer (2); August: U3 July
    # (u1, u2) and u3; every case held misuse
    ac = out["actor_cases"]
    assert (ac["cases_reviewed"], ac["misuse_confirmed"], ac["actors_confirmed"]) == (4, 9, 4)
    assert ac["precision"] == 1.0
    assert [m["month"] for m in ac["months"]] == ["2025-07", "2025-08"]
    assert out["actor_vs_dossier"]["misuse_confirmed_ratio"] == pytest.approx(9 / 4)


def test_missing_optional_columns_and_an_empty_choice() -> None:
    # an export without devices, phones or payment tokens: the account still groups the broker
    dossiers, scored = frames()
    bare = dossiers.drop(columns=["device_id", "contact_phone", "payer_token"])
    out = actor_cases(scored, bare, HIDE)
    assert case_of(out, "b3")["case_key"] == f"account:{HIDE(BROKER_ACCOUNT)}"
    none = actor_cases(scored, dossiers, HIDE, chosen=np.zeros(len(scored), bool))
    assert none.empty and list(none.columns) == CASE_COLUMNS
    assert rank_cases(none).empty
    with pytest.raises(ValueError, match="chosen has 2 values"):
        actor_cases(scored, dossiers, HIDE, chosen=np.ones(2, bool))
    with pytest.raises(ValueError, match="not in the dossiers table"):
        actor_cases(scored, dossiers[dossiers["dossier_id"] != "b1"], HIDE)


def test_candidate_keys_meet_the_batch_case_keys(cases: pd.DataFrame) -> None:
    dossiers, _ = frames()
    row = dossiers.set_index("dossier_id").loc["o1"].to_dict() | {"dossier_id": "o9"}
    keys = candidate_keys(row, "officer_proxy", HIDE)
    # an officer proxy tries its officer first, then its unit x month, then its resources
    assert keys[:2] == [f"officer:{HIDE(OFFICER)}", "unit_month:U1:2025-07"]
    assert keys[-1] == "dossier:o9"
    assert keys[0] in set(cases["case_key"])  # the batch's officer case
    broker = dossiers.set_index("dossier_id").loc["b1"].to_dict() | {"dossier_id": "b9"}
    keys = candidate_keys(broker, "identity_misuse", HIDE)
    assert keys[0] == f"account:{HIDE(BROKER_ACCOUNT)}" and not keys[0].startswith("officer")
    assert not any(BROKER_PHONE in k or BROKER_ACCOUNT in k for k in keys)
