"""The queue, a case, verdicts, assignments, the dashboard, labels and the API feeder.

Five cases built by hand, so every filter, order and page has an answer one
can read off this table (times are local, +07:00):

====  =====  =======  =====  ===============  ===============  ====================
case  unit   month    score  predicted type   submitted        personal fields
====  =====  =======  =====  ===============  ===============  ====================
D1    U01    2025-11  0.95   identity_misuse  2025-11-14       all six filled in
D2    U01    2025-11  0.80   officer_proxy    2025-11-20       none
D3    U02    2025-12  0.70   identity_misuse  2025-12-03       none
D4    U02    2025-12  0.70   officer_proxy    2025-12-01       none
D5    U03    2025-10  0.40   identity_misuse  2025-10-05       none
====  =====  =======  =====  ===============  ===============  ====================

D3 and D4 tie on score: the id (load order) breaks the tie, so pages never overlap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from case_data import OWNER_ID, PERSONAL, PHONE, make_case

from features import mask_value
from service.cases._private import viewer_graph
from service.cases.db import CaseStore
from service.cases.feeder import CaseFeeder, feeder_state, star_graph
from service.cases.labels import merge_labels, split_by_choice, verdict_labels
from service.cases.models import Case, OfficerMonth, UnitMonth
from service.cases.queue import (
    CaseForbidden,
    CaseInputError,
    CaseNotFound,
    QueueFilter,
    assign,
    case_detail,
    export_rows,
    queue,
    record_verdict,
    unit_dashboard,
    units,
)
from service.cases.security import Who
from service.log import EVIDENCE, ScoringLog, log_engine

ROWS = [
    ("D1", "U01", "2025-11", 0.95, "identity_misuse", 14, True),
    ("D2", "U01", "2025-11", 0.80, "officer_proxy", 20, False),
    ("D3", "U02", "2025-12", 0.70, "identity_misuse", 3, False),
    ("D4", "U02", "2025-12", 0.70, "officer_proxy", 1, False),
    ("D5", "U03", "2025-10", 0.40, "identity_misuse", 5, False),
]


@pytest.fixture
def ids(case_store: CaseStore, who: dict[str, Who]) -> dict[str, int]:
    """The five cases of the module docstring; dossier id -> case id."""
    with case_store.session() as s:
        cases = [make_case(d, u, m, sc, t, day=day, personal=p) for d, u, m, sc, t, day, p in ROWS]
        s.add_all(cases)
        s.flush()
        return {c.dossier_id: c.id for c in cases}


def page(store: CaseStore, **kw: Any) -> list[str]:
    with store.session() as s:
        return [i["dossier_id"] for i in queue(s, QueueFilter(**kw)).items]


# --------------------------------------------------------------------------- the queue
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["D1", "D2", "D3", "D4", "D5"]),  # highest score first; D3 before D4 by id
        ({"unit_id": "U02"}, ["D3", "D4"]),
        ({"month": "2025-11"}, ["D1", "D2"]),
        ({"proxy_type": "officer_proxy"}, ["D2", "D4"]),
        ({"min_score": 0.7}, ["D1", "D2", "D3", "D4"]),  # bounds are inclusive
        ({"max_score": 0.7}, ["D3", "D4", "D5"]),
        ({"min_score": 0.75, "max_score": 0.9}, ["D2"]),
        ({"unit_id": "U01", "proxy_type": "identity_misuse"}, ["D1"]),
        ({"unit_id": "U09"}, []),
        ({"sort": "submitted_at"}, ["D5", "D1", "D2", "D4", "D3"]),
        ({"sort": "-submitted_at"}, ["D3", "D4", "D2", "D1", "D5"]),
        ({"sort": "risk_score"}, ["D5", "D3", "D4", "D2", "D1"]),  # ties still by id
        # same month: the score decides, then the id
        ({"sort": "-month"}, ["D3", "D4", "D1", "D2", "D5"]),
        ({"sort": "unit_id"}, ["D1", "D2", "D3", "D4", "D5"]),
    ],
)
def test_filters_and_sort(
    case_store: CaseStore, ids: dict[str, int], filters: dict[str, Any], expected: list[str]
) -> None:
    assert page(case_store, **filters) == expected
    with case_store.session() as s:
        assert queue(s, QueueFilter(**filters)).total == len(expected)


def test_status_and_assignee_filters_follow_verdicts_and_assignments(
    case_store: CaseStore, ids: dict[str, int], who: dict[str, Who]
) -> None:
    with case_store.session() as s:
        record_verdict(s, ids["D2"], who["rita"], "misuse", "officer_proxy")
        assign(s, ids["D3"], who["adam"], "ravi")
    assert page(case_store, status="misuse") == ["D2"]
    assert page(case_store, status="open") == ["D1", "D3", "D4", "D5"]
    assert page(case_store, assignee="ravi") == ["D3"]
    assert page(case_store, assignee="none") == ["D1", "D2", "D4", "D5"]
    assert page(case_store, assignee="nobody-such") == []


def test_an_exploration_case_takes_its_place_in_the_queue_not_its_risks(
    case_store: CaseStore, ids: dict[str, int]
) -> None:
    """Drawn below the threshold, it would sit at the bottom by risk; the queue shows it
    after the flagged case whose priority it took (its later id breaks the tie)."""
    with case_store.session() as s:
        d1 = s.get(Case, ids["D1"])
        assert d1 is not None and d1.priority == d1.risk_score  # a flagged case: its risk
        s.add(make_case("E1", "U01", "2025-12", 0.30, "self", chosen_by="exploration",
                        propensity=0.05, priority=d1.priority))  # fmt: skip
    assert page(case_store) == ["D1", "E1", "D2", "D3", "D4", "D5"]
    assert page(case_store, sort="-risk_score") == ["D1", "D2", "D3", "D4", "D5", "E1"]
    with case_store.session() as s:
        item = queue(s, QueueFilter(per_page=2)).items[1]
        case = case_detail(s, item["id"])
    assert item["chosen_by"] == case["chosen_by"] == "exploration"
    assert case["propensity"] == 0.05


def test_pages_cover_every_match_once(case_store: CaseStore, ids: dict[str, int]) -> None:
    # 5 matches, 2 per page: pages of 2, 2 and 1, then an empty page past the end
    with case_store.session() as s:
        pages = [queue(s, QueueFilter(per_page=2, page=n)) for n in (1, 2, 3, 4)]
    assert [len(p.items) for p in pages] == [2, 2, 1, 0]
    assert all(p.total == 5 for p in pages)
    seen = [i["dossier_id"] for p in pages for i in p.items]
    assert seen == ["D1", "D2", "D3", "D4", "D5"]


def test_a_queue_item_has_the_listed_keys_and_no_personal_value(
    case_store: CaseStore, ids: dict[str, int]
) -> None:
    with case_store.session() as s:
        first = queue(s, QueueFilter(per_page=1)).items[0]
    assert first == {
        "id": ids["D1"],
        "dossier_id": "D1",
        "unit_id": "U01",
        "month": "2025-11",
        "submitted_at": "2025-11-14T09:15:00+07:00",  # stored in UTC, shown on the local clock
        "channel": "online",
        "risk_score": 0.95,
        "proxy_type": "identity_misuse",
        "status": "open",
        "verdict_type": None,
        "assignee": None,
        "reasons": ["R101", "M.dev_accounts"],
        "data_gaps": 1,
        "chosen_by": "queue",
    }


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"month": "2025-13"}, "month"),
        ({"month": "11/2025"}, "month"),
        ({"proxy_type": "broker"}, "proxy_type"),
        ({"status": "closed"}, "status"),
        ({"min_score": -0.1}, "min_score"),
        ({"max_score": 1.5}, "max_score"),
        ({"min_score": 0.8, "max_score": 0.2}, "max_score"),
        ({"sort": "owner_id"}, "sort"),
        ({"sort": "--risk_score"}, "sort"),
        ({"page": 0}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 201}, "per_page"),
        ({"unit_id": ""}, "unit_id"),
        ({"assignee": "x" * 65}, "assignee"),
    ],
)
def test_a_bad_filter_names_its_field(filters: dict[str, Any], field: str) -> None:
    with pytest.raises(CaseInputError, match=f"^{field}: expected") as info:
        QueueFilter(**filters).validate()
    assert info.value.field == field


def test_export_has_every_match_in_order_and_no_personal_value(
    case_store: CaseStore, ids: dict[str, int]
) -> None:
    with case_store.session() as s:
        rows = list(export_rows(s, QueueFilter(per_page=1, page=3, unit_id="U01")))
        listed = queue(s, QueueFilter(per_page=1)).items[0]
        everything = list(export_rows(s, QueueFilter()))
    # page and per_page do not apply to an export
    assert [r["dossier_id"] for r in rows] == ["D1", "D2"]
    assert set(rows[0]) == set(listed)
    text = json.dumps(everything, ensure_ascii=False)
    for value in PERSONAL.values():
        assert value not in text
    with case_store.session() as s, pytest.raises(CaseInputError, match=r"^status"):
        export_rows(s, QueueFilter(status="done"))


# --------------------------------------------------------------------------- one case
def test_a_case_masks_personal_fields_unless_revealed(
    case_store: CaseStore, ids: dict[str, int]
) -> None:
    with case_store.session() as s:
        masked = case_detail(s, ids["D1"])
        shown = case_detail(s, ids["D1"], reveal=["owner_id", "contact_phone"])
    assert masked["dossier"]["owner_id"] == "**********89" == mask_value(OWNER_ID)
    for field, value in PERSONAL.items():
        # a name or an e-mail keeps nothing: a kept letter or domain narrows the guess
        expected = "***" if field in ("owner_name", "contact_email") else mask_value(value)
        assert masked["dossier"][field] == expected
        assert value not in json.dumps(masked, ensure_ascii=False)
    # only the two fields asked for come out in clear
    assert shown["dossier"]["owner_id"] == OWNER_ID
    assert shown["dossier"]["contact_phone"] == PHONE
    assert shown["dossier"]["holder_id"] == mask_value(PERSONAL["holder_id"])
    # fields that are not personal are never masked
    assert masked["dossier"]["account_id"] == "ACC-D1"
    assert masked["reasons"][0]["evidence"] == {"acct_owners": 8.0}
    assert masked["source"] == "batch" and masked["verdicts"] == [] and masked["assignee"] is None


def test_a_viewer_sees_the_actors_masked_and_no_birth_year_or_death_date() -> None:
    # the probe: a viewer read IPs, devices, accounts, officer IDs, birth year and death date
    graph = {
        "nodes": [
            {"id": "dossier:D1", "type": "dossier", "label": "D1", "unit_id": "U1"},
            {
                "id": "person:3f9a0c1d2e4b",
                "type": "person",
                "label": "3f9a0c1d2e4b",
                "birth_year": 1941,
                "death_date": "2024-02-01",
                "known": True,
            },
            {"id": "account:ACC-77", "type": "account", "label": "ACC-77", "known": True},
            {"id": "device:DEV-abcdef01", "type": "device", "label": "DEV-abcdef01"},
            {"id": "ip:203.0.113.45", "type": "ip", "label": "203.0.113.45"},
            {"id": "staff:ST-0042", "type": "staff", "label": "ST-0042", "unit_id": "U1"},
        ],
        "edges": [
            {"source": "dossier:D1", "target": "account:ACC-77", "type": "submitted_through"},
            {"source": "staff:ST-0042", "target": "dossier:D1", "type": "accepted_by"},
        ],
        "graph": {"focus": "dossier:D1", "holder": "account:ACC-77"},
    }
    seen = viewer_graph(graph)
    assert seen is not None
    text = json.dumps(seen)
    for clear in ("ACC-77", "DEV-abcdef01", "203.0.113.45", "ST-0042", "1941", "2024-02-01"):
        assert clear not in text
    nodes = {n["id"]: n for n in seen["nodes"]}
    assert nodes["account:1"]["label"] == mask_value("ACC-77") == "******"  # short: all masked
    assert nodes["ip:1"]["label"] == "**********45"
    assert nodes["person:3f9a0c1d2e4b"]["deceased"] is True  # the fact stays, the date goes
    assert {(e["source"], e["target"]) for e in seen["edges"]} == {
        ("dossier:D1", "account:1"),
        ("staff:1", "dossier:D1"),
    }
    assert seen["graph"]["holder"] == "account:1"
    assert graph["nodes"][2]["id"] == "account:ACC-77"  # the stored graph is left as it was


def test_a_viewer_case_masks_the_actors_fields(case_store: CaseStore, ids: dict[str, int]) -> None:
    with case_store.session() as s:
        as_viewer = case_detail(s, ids["D1"], viewer=True)
        as_reviewer = case_detail(s, ids["D1"])
    assert as_reviewer["dossier"]["account_id"] == "ACC-D1"
    assert as_viewer["dossier"]["account_id"] == mask_value("ACC-D1")
    assert as_viewer["dossier"]["device_id"] == mask_value("DEV-9")


def test_a_case_refuses_an_unknown_reveal_field_and_an_unknown_id(
    case_store: CaseStore, ids: dict[str, int]
) -> None:
    with case_store.session() as s:
        with pytest.raises(CaseInputError, match=r"^reveal: .*'risk_score'") as info:
            case_detail(s, ids["D1"], reveal=["owner_id", "risk_score"])
        assert info.value.field == "reveal"
        with pytest.raises(CaseNotFound):
            case_detail(s, max(ids.values()) + 1)


def test_related_dossiers_link_to_their_case_when_there_is_one(
    case_store: CaseStore, ids: dict[str, int]
) -> None:
    with case_store.session() as s:
        case = s.get(Case, ids["D1"])
        assert case is not None
        case.evidence = {
            "graph": {"nodes": [], "edges": [], "graph": {}},
            "related": [
                {"dossier_id": "D2", "via": "account", "submitted_at": None},
                {"dossier_id": "H-not-a-case", "via": "device", "submitted_at": None},
            ],
        }
    with case_store.session() as s:
        related = case_detail(s, ids["D1"])["evidence"]["related"]
    assert [(r["dossier_id"], r["case_id"]) for r in related] == [
        ("D2", ids["D2"]),
        ("H-not-a-case", None),
    ]


# --------------------------------------------------------------------------- verdicts
@pytest.mark.parametrize(
    ("decision", "proxy_type", "note", "field"),
    [
        ("guilty", "identity_misuse", "", "decision"),
        ("misuse", "self", "", "proxy_type"),  # self is a legitimate type
        ("misuse", None, "", "proxy_type"),
        ("legitimate", "officer_proxy", "", "proxy_type"),
        ("needs_info", "family", "", "proxy_type"),  # needs_info takes no type
        ("misuse", "identity_misuse", "x" * 2001, "note"),
    ],
)
def test_a_bad_verdict_names_its_field_and_changes_nothing(
    case_store: CaseStore,
    ids: dict[str, int],
    who: dict[str, Who],
    decision: str,
    proxy_type: str | None,
    note: str,
    field: str,
) -> None:
    with case_store.session() as s:
        with pytest.raises(CaseInputError, match=f"^{field}: ") as info:
            record_verdict(s, ids["D1"], who["rita"], decision, proxy_type, note)
        assert info.value.field == field
    with case_store.session() as s:
        detail = case_detail(s, ids["D1"])
    assert detail["status"] == "open" and detail["verdicts"] == []


def test_a_viewer_cannot_record_a_verdict_nor_assign(
    case_store: CaseStore, ids: dict[str, int], who: dict[str, Who]
) -> None:
    with case_store.session() as s:
        with pytest.raises(CaseForbidden):
            record_verdict(s, ids["D1"], who["vera"], "misuse", "identity_misuse")
        with pytest.raises(CaseForbidden):
            assign(s, ids["D1"], who["vera"], "rita")
        with pytest.raises(CaseNotFound):
            record_verdict(s, 10_000, who["rita"], "needs_info", None)


def test_the_latest_verdict_sets_the_status_and_all_stay_in_the_history(
    case_store: CaseStore, ids: dict[str, int], who: dict[str, Who]
) -> None:
    steps = [
        ("rita", "needs_info", None, "needs_info", None),
        ("ravi", "misuse", "identity_misuse", "misuse", "identity_misuse"),
        ("adam", "legitimate", "family", "legitimate", "family"),  # a reviewer may be overruled
    ]
    for user, decision, ptype, status, vtype in steps:
        with case_store.session() as s:
            v = record_verdict(s, ids["D2"], who[user], decision, ptype, note=f"by {user}")
        assert v["decision"] == decision and v["username"] == user and v["case_id"] == ids["D2"]
        with case_store.session() as s:
            detail = case_detail(s, ids["D2"])
        assert (detail["status"], detail["verdict_type"]) == (status, vtype)
    assert [(v["username"], v["decision"], v["note"]) for v in detail["verdicts"]] == [
        ("rita", "needs_info", "by rita"),
        ("ravi", "misuse", "by ravi"),
        ("adam", "legitimate", "by adam"),
    ]
    assert detail["verdicts"][0]["created_at"].endswith("+07:00")


def test_assign_and_unassign_are_kept_in_the_history(
    case_store: CaseStore, ids: dict[str, int], who: dict[str, Who]
) -> None:
    with case_store.session() as s:
        got = assign(s, ids["D1"], who["adam"], "rita")
        assert got["assignee"] == "rita" and got["assigned_by"] == "adam"
    with case_store.session() as s:
        assert case_detail(s, ids["D1"])["assignee"] == "rita"
        assign(s, ids["D1"], who["rita"], None)
    with case_store.session() as s:
        detail = case_detail(s, ids["D1"])
    assert detail["assignee"] is None
    assert [(a["assignee"], a["assigned_by"]) for a in detail["assignments"]] == [
        ("rita", "adam"),
        (None, "rita"),
    ]


@pytest.mark.parametrize(
    ("assignee", "why"),
    [("ghost", "active username"), ("nina", "active username"), ("vera", "reviewer or admin")],
)
def test_a_case_goes_only_to_an_active_reviewer_or_admin(
    case_store: CaseStore, ids: dict[str, int], who: dict[str, Who], assignee: str, why: str
) -> None:
    with case_store.session() as s, pytest.raises(CaseInputError, match=f"^assignee: .*{why}"):
        assign(s, ids["D1"], who["adam"], assignee)


# --------------------------------------------------------------------------- dashboard
def test_the_province_dashboard_weights_unit_shares_by_dossiers(
    case_store: CaseStore, ids: dict[str, int], who: dict[str, Who]
) -> None:
    with case_store.session() as s:
        s.add_all(
            [
                # U01: 100 dossiers, 60% claimed online, 50% genuinely; U02: 300, 20% and 20%
                UnitMonth(unit_id="U01", month="2025-11", dossiers=100, claimed_online_share=0.6,
                          estimated_genuine_online_share=0.5, suspected_officer_proxy=10.0,
                          flagged_officer_proxy=4),
                UnitMonth(unit_id="U02", month="2025-11", dossiers=300, claimed_online_share=0.2,
                          estimated_genuine_online_share=0.2, suspected_officer_proxy=0.5,
                          flagged_officer_proxy=0),
                OfficerMonth(staff_id="S1", unit_id="U01", month="2025-11", dossiers_accepted=50,
                             suspected_officer_proxy=9.5, flagged_officer_proxy=4),
                OfficerMonth(staff_id="S2", unit_id="U02", month="2025-11", dossiers_accepted=90,
                             suspected_officer_proxy=0.5, flagged_officer_proxy=0),
            ]
        )  # fmt: skip
        record_verdict(s, ids["D1"], who["rita"], "misuse", "identity_misuse")
    with case_store.session() as s:
        province = unit_dashboard(s)
        u01 = unit_dashboard(s, "U01")
        listed = units(s)
    nov = next(m for m in province["months"] if m["month"] == "2025-11")
    # (0.6*100 + 0.2*300) / 400 = 0.3 claimed; (0.5*100 + 0.2*300) / 400 = 0.275 genuine
    assert nov["dossiers"] == 400
    assert nov["claimed_online_share"] == pytest.approx(0.3)
    assert nov["estimated_genuine_online_share"] == pytest.approx(0.275)
    assert nov["suspected_officer_proxy"] == pytest.approx(10.5)
    assert (nov["flagged_officer_proxy"], nov["cases"], nov["confirmed_misuse"]) == (4, 2, 1)
    # months with cases but no figures still appear (D3/D4 in December, D5 in October)
    assert [m["month"] for m in province["months"]] == ["2025-10", "2025-11", "2025-12"]
    assert province["units"] == ["U01", "U02", "U03"]
    assert [o["staff_id"] for o in province["officers"]] == ["S1", "S2"]  # most suspected first
    assert u01["unit_id"] == "U01" and [o["staff_id"] for o in u01["officers"]] == ["S1"]
    assert u01["months"] == [
        {"month": "2025-11", "dossiers": 100, "claimed_online_share": 0.6,
         "estimated_genuine_online_share": 0.5, "suspected_officer_proxy": 10.0,
         "flagged_officer_proxy": 4, "cases": 2, "confirmed_misuse": 1},
    ]  # fmt: skip
    assert listed == [
        {"unit_id": "U01", "cases": 2, "open": 1},
        {"unit_id": "U02", "cases": 2, "open": 2},
        {"unit_id": "U03", "cases": 1, "open": 1},
    ]
    with case_store.session() as s, pytest.raises(CaseNotFound):
        unit_dashboard(s, "U99")


# --------------------------------------------------------------------------- labels
def test_verdict_labels_take_each_case_latest_decided_verdict(
    case_store: CaseStore, ids: dict[str, int], who: dict[str, Who]
) -> None:
    with case_store.session() as s:
        record_verdict(s, ids["D1"], who["rita"], "legitimate", "family")
        record_verdict(s, ids["D1"], who["adam"], "misuse", "identity_misuse")  # latest wins
        record_verdict(s, ids["D2"], who["rita"], "misuse", "officer_proxy")
        record_verdict(s, ids["D2"], who["rita"], "needs_info", None)  # reopened: no label
        record_verdict(s, ids["D3"], who["rita"], "needs_info", None)
        record_verdict(s, ids["D4"], who["rita"], "legitimate", "assisted")
        # D4 was drawn to teach the model, with one chance in four: its verdict counts 4 times
        s.execute(
            sa.update(Case)
            .where(Case.id == ids["D4"])
            .values(chosen_by="exploration", propensity=0.25)
        )
    with case_store.session() as s:
        got = verdict_labels(s)
    assert got.to_dict("records") == [
        {"dossier_id": "D1", "proxy_type": "identity_misuse", "weight": 1.0, "chosen_by": "queue"},
        {"dossier_id": "D4", "proxy_type": "assisted", "weight": 4.0, "chosen_by": "exploration"},
    ]
    explored, flagged = split_by_choice(got)
    assert explored["dossier_id"].tolist() == ["D4"] and flagged["dossier_id"].tolist() == ["D1"]


def test_merged_labels_let_a_verdict_win_over_the_file() -> None:
    file_labels = pd.DataFrame(
        {
            "dossier_id": ["D1", "D9", "D9", "D4"],
            "proxy_type": ["self", "family", "self", "assisted"],
        }
    )
    verdicts = pd.DataFrame(
        {
            "dossier_id": ["D1", "D7"],
            "proxy_type": ["identity_misuse", "self"],
            "weight": [1.0, 4.0],
        }
    )
    merged = merge_labels(file_labels, verdicts)
    # D1: the verdict beats the file; D9: the file's first row; D7: a verdict the file lacks,
    # keeping its weight (a file's label counts once)
    assert merged.to_dict("records") == [
        {"dossier_id": "D1", "proxy_type": "identity_misuse", "weight": 1.0},
        {"dossier_id": "D4", "proxy_type": "assisted", "weight": 1.0},
        {"dossier_id": "D7", "proxy_type": "self", "weight": 4.0},
        {"dossier_id": "D9", "proxy_type": "family", "weight": 1.0},
    ]
    assert merge_labels(None, verdicts).equals(
        verdicts.sort_values("dossier_id").reset_index(drop=True)
    )
    with pytest.raises(ValueError, match="dossier_id, proxy_type"):
        merge_labels(pd.DataFrame({"id": ["D1"]}), verdicts)


# --------------------------------------------------------------------------- API feeder
def _answer(dossier_id: str, flagged: bool, score: float) -> dict[str, Any]:
    return {
        "dossier_id": dossier_id,
        "risk_score": score,
        "proxy_type": "identity_misuse" if flagged else "self",
        "flagged": flagged,
        "probabilities": {"identity_misuse": score, "self": 1 - score},
        "reasons": [
            {"code": "R105", "vi": "…", "en": "…",
             "evidence": {"payer_new_unlinked_owners_30d": 6.0, "payer_accounts": 3.0}},
        ] if flagged else [],
        "data_gaps": ["no_people_registry"],
        "model_version": "m-api",
    }  # fmt: skip


def _logged(dossier_id: str) -> dict[str, Any]:
    return {
        **{k: v for k, v in PERSONAL.items() if k != "holder_id"},
        "dossier_id": dossier_id,
        "unit_id": "U01",
        "channel": "online",
        "submitted_at": "2025-12-31T23:30:00+07:00",  # late on the 31st: December, locally
        "account_id": "ACC-7",
        "device_id": "DEV-7",
        "ip": "10.0.0.7",
    }


def test_the_feeder_makes_api_cases_once_and_never_overwrites_a_batch_case(
    case_store: CaseStore, ids: dict[str, int], db_url: str, tmp_path: Path
) -> None:
    log = ScoringLog(log_engine(f"sqlite:///{tmp_path / 'log.db'}"))
    log.record("A1", 0, False, _logged("A1"), _answer("A1", True, 0.9), "m-api")
    log.record("A2", 0, False, _logged("A2"), _answer("A2", False, 0.1), "m-api")  # not flagged
    log.record("D5", 0, False, _logged("D5"), _answer("D5", True, 0.99), "m-api")  # batch case
    log.record("A3", 0, True, _logged("A3"), _answer("A3", True, 0.9), "m-api")  # in history
    feeder = CaseFeeder(case_store, log, b"test secret")
    assert feeder.run_once() == 1  # A1 only
    assert feeder.run_once() == 0  # nothing new: idempotent
    assert feeder.last_seq() == 4
    log.record("A4", 0, False, _logged("A4"), _answer("A4", True, 0.7), "m-api")
    assert feeder.run_once() == 1
    with case_store.session() as s:
        page_ = queue(s, QueueFilter(per_page=200))
        d5 = case_detail(s, ids["D5"])
        a1_id = s.scalar(sa.select(Case.id).where(Case.dossier_id == "A1"))
        assert a1_id is not None
        a1 = case_detail(s, a1_id)
        a1_priority = s.scalar(sa.select(Case.priority).where(Case.id == a1_id))
        state = s.execute(sa.select(feeder_state)).all()
    assert sorted(i["dossier_id"] for i in page_.items) == [
        "A1",
        "A4",
        "D1",
        "D2",
        "D3",
        "D4",
        "D5",
    ]
    assert (d5["source"], d5["risk_score"]) == ("batch", 0.40)  # the batch case stays as it was
    assert (a1["source"], a1["scored_at"], a1["month"]) == ("api", "submission", "2025-12")
    assert a1["model_version"] == "m-api" and a1["data_gaps"] == ["no_people_registry"]
    assert (a1["chosen_by"], a1["propensity"], a1_priority) == ("queue", 1.0, 0.9)  # its risk
    assert a1["dossier"]["owner_id"] == mask_value(OWNER_ID)
    assert [(name, seq) for name, seq, _ in state] == [("api", 5)]
    # the star graph: the payment reason marks the dossier's payment edge, pseudonymised
    graph = a1["evidence"]["graph"]
    marked = [(e["type"], e["target"].split(":")[0]) for e in graph["edges"] if e["suspicious"]]
    assert marked == [("paid_by", "payment")]
    text = json.dumps(graph, ensure_ascii=False)
    for value in (OWNER_ID, PHONE, PERSONAL["payer_token"]):
        assert value not in text


def test_the_star_graph_uses_the_batch_graph_node_keys() -> None:
    g = star_graph(_logged("A1") | {"owner_id": "0312345678"})  # a tax code: a business
    assert g.graph["focus"] == "dossier:A1"
    assert set(g.nodes) == {
        "dossier:A1", "business:0312345678", "account:ACC-7", "device:DEV-7", "ip:10.0.0.7",
        f"phone:{PHONE}", "payment:PAY-TOKEN-77", "unit:U01",
    }  # fmt: skip
    assert g.nodes[f"phone:{PHONE}"]["label"] == mask_value(PHONE)
    assert {k for _, _, k in g.edges(keys=True)} == {
        "owns", "submitted_through", "used_device", "from_ip", "contact_phone", "paid_by",
        "received_at",
    }  # fmt: skip


def test_migration_0002_adds_the_feeder_state_and_the_queue_indexes_and_goes_back(
    case_store: CaseStore,
) -> None:
    from alembic import command

    from service.cases.db import alembic_config, migrate

    def shape() -> tuple[set[str], set[str]]:
        inspector = sa.inspect(case_store.engine)
        return set(inspector.get_table_names()), {
            i["name"] for i in inspector.get_indexes("cases") if i["name"]
        }

    tables, indexes = shape()
    assert "feeder_state" in tables
    assert {"ix_cases_filters", "ix_cases_unit_score", "ix_cases_submitted"} <= indexes
    cfg = alembic_config(str(case_store.engine.url))
    with case_store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    tables, indexes = shape()
    assert "feeder_state" not in tables and "ix_cases_filters" not in indexes
    assert "ix_cases_score" in indexes  # 0001's own are untouched
    migrate(case_store.engine)
    assert "feeder_state" in shape()[0]


def test_migration_0004_gives_every_case_its_risk_as_priority_and_goes_back(
    case_store: CaseStore, ids: dict[str, int]
) -> None:
    from alembic import command

    from service.cases.db import alembic_config, migrate

    def columns() -> set[str]:
        return {c["name"] for c in sa.inspect(case_store.engine).get_columns("cases")}

    cfg = alembic_config(str(case_store.engine.url))
    with case_store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert not {"chosen_by", "propensity", "priority"} & columns()
    with case_store.engine.begin() as conn:  # an older store's cases, then the upgrade
        conn.execute(sa.text("UPDATE cases SET risk_score = 0.42 WHERE dossier_id = 'D5'"))
    migrate(case_store.engine)
    with case_store.session() as s:
        rows = s.execute(sa.select(Case.dossier_id, Case.priority, Case.risk_score, Case.chosen_by,
                                   Case.propensity)).all()  # fmt: skip
    assert len(rows) == 5
    assert all(p == r and c == "queue" and w == 1.0 for _, p, r, c, w in rows)
    assert page(case_store)[-1] == "D5"


def test_the_feeder_takes_the_evidence_the_engine_drew(
    case_store: CaseStore, ids: dict[str, int], tmp_path: Path
) -> None:
    # the engine logs a flagged dossier's evidence beside its fields; the feeder stores it as
    # it came (already marked and pseudonymised) and keeps it out of the dossier's fields
    drawn = {
        "graph": {"nodes": [{"id": "dossier:A9", "type": "dossier", "label": "A9"}],
                  "edges": [], "graph": {"focus": "dossier:A9"}},
        "related": [{"dossier_id": "B1", "via": "account", "submitted_at": None}],
    }  # fmt: skip
    log = ScoringLog(log_engine(f"sqlite:///{tmp_path / 'log.db'}"))
    fields = _logged("A9") | {EVIDENCE: drawn}
    log.record("A9", 0, False, {"dossier_id": "A9"}, _answer("A9", True, 0.9), "m", fields)
    assert CaseFeeder(case_store, log, b"test secret").run_once() == 1
    with case_store.session() as s:
        case = s.scalars(sa.select(Case).where(Case.dossier_id == "A9")).one()
        assert case.evidence == drawn
        assert EVIDENCE not in case.dossier and case.dossier["device_id"] == "DEV-7"
