"""Loading a batch run into the case store: cases, evidence, dashboard, idempotency.

The session's small simulated province and model (``tests/conftest.py``);
the run is ``--at review`` and the load takes its last month (as ``detector
score --since 2025-12-01 --to-db`` would), which keeps each load to a few
seconds on both databases.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import joblib
import networkx as nx
import pandas as pd
import pytest
import sqlalchemy as sa

import detector.artifacts
import detector.batch
import features.compute
from detector.artifacts import load_card
from detector.batch import score_dataset, unit_report
from detector.explore import EXPLORE_SHARE, exploration_count
from detector.fastscore import FastScorer
from detector.scorer import REASON_LIST, Detector
from features import EntityIndex, owner_id_kind, read_dataset
from features.errors import UsageError
from service.cases import audit
from service.cases._evidence import suspicious_edges
from service.cases.db import CaseStore
from service.cases.load import LoadSummary, load_batch
from service.cases.models import Case, User
from service.cases.queue import (
    QueueFilter,
    assign,
    case_detail,
    queue,
    record_verdict,
    unit_dashboard,
)
from service.cases.security import Who

SECRET = b"tests only: the pseudonymisation key"
LAST_MONTH = "2025-12"


@pytest.fixture(scope="module")
def run(province_dir: Path, model_dir: Path) -> dict[str, Any]:
    """The folder, the review scores of its last month and the index, once."""
    ds = read_dataset(province_dir / "data")
    scored = score_dataset(ds, model_dir, at="review", since=f"{LAST_MONTH}-01")
    return {"ds": ds, "scored": scored, "index": EntityIndex.from_dataset(ds)}


def load(store: CaseStore, run: dict[str, Any], model_dir: Path, **kw: Any) -> LoadSummary:
    """A load; without exploration unless asked (the flagged cases are what most tests check)."""
    args = {"index": run["index"], "explore_share": 0.0, **kw}
    return load_batch(
        store, run["ds"], run["scored"], model_dir, at="review", secret=SECRET, **args
    )


@pytest.fixture
def loaded(case_store: CaseStore, run: dict[str, Any], model_dir: Path) -> Iterator[LoadSummary]:
    yield load(case_store, run, model_dir)


def flagged(run: dict[str, Any]) -> pd.DataFrame:
    s = run["scored"]
    return s[s["flagged"]].set_index("dossier_id")


def all_cases(store: CaseStore) -> list[Case]:
    with store.session() as s:
        return list(s.scalars(sa.select(Case).order_by(Case.id)))


def test_every_flagged_dossier_becomes_one_case_with_its_reasons(
    case_store: CaseStore, run: dict[str, Any], model_dir: Path, loaded: LoadSummary
) -> None:
    want = flagged(run)
    assert len(want) > 20  # the test would prove little on a handful
    assert (loaded.scored, loaded.flagged, loaded.created) == (
        len(run["scored"]),
        len(want),
        len(want),
    )
    cases = all_cases(case_store)
    assert sorted(c.dossier_id for c in cases) == sorted(want.index)
    d = run["ds"].tables["dossiers"].set_index("dossier_id")
    holders = run["ds"].tables["accounts"].set_index("account_id")["holder_id"]
    version = load_card(model_dir)["model_version"]
    for c in cases:
        row = want.loc[c.dossier_id]
        # the reasons of the scores file, sentences too, and the scorer's own evidence
        assert [r["code"] for r in c.reasons] == row["reasons"].split(";")
        assert " | ".join(r["vi"] for r in c.reasons) == row["reasons_vi"]
        assert " | ".join(r["en"] for r in c.reasons) == row["reasons_en"]
        assert c.reasons == [r.as_dict() for r in row[REASON_LIST]]
        # every rule reason carries the feature values behind it; a model reason its value
        # and the typical legitimate value
        for r in c.reasons:
            if r["code"].startswith("M.") and r["code"] != "M.pattern":
                assert set(r["evidence"]) == {r["code"][2:], "typical"}
            elif r["code"] != "M.pattern":
                assert r["evidence"], r["code"]
        assert c.risk_score == pytest.approx(row["risk_score"])
        assert (c.proxy_type, c.status, c.source, c.scored_at) == (
            row["proxy_type"],
            "open",
            "batch",
            "review",
        )
        assert c.model_version == version and c.month == LAST_MONTH
        assert sum(c.probabilities.values()) == pytest.approx(1.0)
        assert c.data_gaps == [g for g in row["data_gaps"].split(";") if g]
        # the dossier's own fields, in clear in the store (masked in every answer)
        assert c.dossier["owner_id"] == (
            None if pd.isna(d.at[c.dossier_id, "owner_id"]) else d.at[c.dossier_id, "owner_id"]
        )
        account = d.at[c.dossier_id, "account_id"]
        assert c.dossier["holder_id"] == (
            holders.get(account) if isinstance(account, str) else None
        )
    # the queue reads them highest score first
    with case_store.session() as s:
        top = queue(s, QueueFilter(per_page=3)).items
    assert [i["risk_score"] for i in top] == sorted(want["risk_score"], reverse=True)[:3]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_the_evidence_holds_no_citizen_id_phone_or_payment_token_in_clear(
    case_store: CaseStore, run: dict[str, Any], loaded: LoadSummary
) -> None:
    t = run["ds"].tables
    personal: set[str] = set()
    for table, column in (("dossiers", "owner_id"), ("dossiers", "contact_phone"),
                          ("dossiers", "payer_token"), ("accounts", "holder_id"),
                          ("people", "person_id"), ("relations", "related_id"),
                          ("staff", "person_id")):  # fmt: skip
        values = t[table][column].dropna().astype(str)
        # a business's tax code is public (the graph draws businesses in clear)
        personal |= set(values[owner_id_kind(values) != "business"])
    digits = re.compile(r"\d{9,}")
    marked = 0
    for c in all_cases(case_store):
        assert c.evidence is not None
        graph = c.evidence["graph"]
        for text in _strings(c.evidence):
            assert text not in personal
            assert not any(m in personal for m in digits.findall(text))
        # personal nodes are there, under pseudonyms (12 hex characters)
        people = [n["id"] for n in graph["nodes"] if n["type"] == "person"]
        assert all(re.fullmatch(r"person:[0-9a-f]{12}(#\d+)?", p) for p in people)
        marked += any(e["suspicious"] for e in graph["edges"])
        assert graph["graph"]["focus"] == f"dossier:{c.dossier_id}"
    # nearly every flag's reasons point at a link (M.pattern and unit context do not)
    assert marked >= 0.8 * len(all_cases(case_store))


def test_a_reload_refreshes_open_cases_and_keeps_reviewed_ones_as_they_were(
    case_store: CaseStore, run: dict[str, Any], model_dir: Path, loaded: LoadSummary
) -> None:
    with case_store.session() as s:
        user = User(username="rita", role="reviewer", password_hash="x", display_name="Rita")
        s.add(user)
        s.flush()
        who = Who(user.id, "rita", "Rita", "reviewer", "csrf")
        ids = list(s.scalars(sa.select(Case.id).order_by(Case.risk_score.desc()).limit(2)))
        record_verdict(s, ids[0], who, "misuse", "identity_misuse", "checked at the desk")
        assign(s, ids[0], who, "rita")
        # both scores tampered with: the reload must restore the open one only
        for case in s.scalars(sa.select(Case).where(Case.id.in_(ids))):
            case.risk_score = 0.01
    again = load(case_store, run, model_dir)
    assert (again.created, again.refreshed, again.kept_reviewed) == (0, loaded.flagged - 1, 1)
    with case_store.session() as s:
        reviewed = case_detail(s, ids[0])
        refreshed = case_detail(s, ids[1])
        total = queue(s, QueueFilter()).total
        loads = audit.entries(s, action="cases_load")
    assert total == loaded.flagged
    assert (reviewed["status"], reviewed["verdict_type"], reviewed["assignee"]) == (
        "misuse",
        "identity_misuse",
        "rita",
    )
    assert [v["note"] for v in reviewed["verdicts"]] == ["checked at the desk"]
    assert reviewed["risk_score"] == 0.01  # what its reviewer saw stays
    assert refreshed["risk_score"] == pytest.approx(
        flagged(run).loc[refreshed["dossier_id"], "risk_score"]
    )
    assert len(loads) == 2
    assert loads[0].detail["created"] == 0 and loads[1].detail["created"] == loaded.flagged
    assert loads[0].username == "detector score --to-db"


def test_an_open_api_case_is_replaced_by_the_batch_one(
    case_store: CaseStore, run: dict[str, Any], model_dir: Path
) -> None:
    dossier_id = str(flagged(run).index[0])
    with case_store.session() as s:
        s.add(Case(dossier_id=dossier_id, month=LAST_MONTH, risk_score=0.5, proxy_type="officer_proxy",
                   source="api", scored_at="submission", evidence={"graph": None, "related": []}))  # fmt: skip
    summary = load(case_store, run, model_dir)
    assert (summary.created, summary.refreshed) == (summary.flagged - 1, 1)
    with case_store.session() as s:
        c = s.scalar(sa.select(Case).where(Case.dossier_id == dossier_id))
    assert c is not None and (c.source, c.scored_at) == ("batch", "review")
    assert c.evidence is not None and len(c.evidence["graph"]["nodes"]) > 3


def test_the_dashboard_shows_unit_report_figures(
    case_store: CaseStore, run: dict[str, Any], loaded: LoadSummary
) -> None:
    units, officers = unit_report(run["ds"], run["scored"])
    units = units[units["month"] == LAST_MONTH]
    officers = officers[officers["month"] == LAST_MONTH]
    assert (loaded.unit_months, loaded.officer_months) == (len(units), len(officers))
    with case_store.session() as s:
        for r in units.itertuples():
            board = unit_dashboard(s, r.unit_id)
            (month,) = [m for m in board["months"] if m["month"] == LAST_MONTH]
            assert month["dossiers"] == r.dossiers
            assert month["claimed_online_share"] == pytest.approx(r.claimed_online_share)
            assert month["estimated_genuine_online_share"] == pytest.approx(
                r.estimated_genuine_online_share
            )
            assert month["suspected_officer_proxy"] == pytest.approx(r.suspected_officer_proxy)
            assert month["flagged_officer_proxy"] == r.flagged_officer_proxy
            mine = officers[officers["unit_id"] == r.unit_id]
            got = {(o["staff_id"], o["month"]): o for o in board["officers"]}
            assert set(got) == set(zip(mine["staff_id"], mine["month"], strict=True))
            for o in mine.itertuples():
                assert got[(o.staff_id, o.month)]["suspected_officer_proxy"] == pytest.approx(
                    o.suspected_officer_proxy
                )
        province = unit_dashboard(s)
    (month,) = [m for m in province["months"] if m["month"] == LAST_MONTH]
    assert month["dossiers"] == units["dossiers"].sum()
    claimed = (units["claimed_online_share"] * units["dossiers"]).sum() / units["dossiers"].sum()
    assert month["claimed_online_share"] == pytest.approx(claimed, abs=1e-4)
    assert month["cases"] == loaded.flagged


def test_a_load_scores_nothing_again(
    case_store: CaseStore, run: dict[str, Any], model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``score --to-db``: one model load, one feature pass, one scoring; the load adds none."""
    calls: Counter[str] = Counter()

    def counted(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return f(*args, **kwargs)

        return wrapper

    for module, attr, name in [
        (joblib, "load", "unpickle"),
        (detector.artifacts, "load", "model"),
        (detector.batch, "load", "model"),
        (features.compute, "compute_all", "features"),  # compute_features' too
        (Detector, "score_frame", "score"),
        (FastScorer, "score", "score one"),
    ]:
        monkeypatch.setattr(module, attr, counted(name, getattr(module, attr)))
    scored = score_dataset(run["ds"], model_dir, at="review", since="2025-12-20")
    assert calls == {"unpickle": 1, "model": 1, "features": 1, "score": 1}
    summary = load_batch(case_store, run["ds"], scored, model_dir, at="review", secret=SECRET,
                         index=run["index"], explore_share=0.0)  # fmt: skip
    assert summary.created == int(scored["flagged"].sum()) > 0
    assert calls == {"unpickle": 1, "model": 1, "features": 1, "score": 1}, "the load scored again"


def test_load_refuses_scores_without_the_details_columns(
    case_store: CaseStore, run: dict[str, Any], model_dir: Path
) -> None:

    bare = run["scored"][["dossier_id", "risk_score", "proxy_type", "flagged", "reasons"]]
    with pytest.raises(UsageError, match="missing data_gaps"):
        load_batch(case_store, run["ds"], bare, model_dir, at="review", secret=SECRET)
    with pytest.raises(UsageError, match="review or submission"):
        load_batch(case_store, run["ds"], run["scored"], model_dir, at="later", secret=SECRET)


# --------------------------------------------------------------------------- suspicious links
def _star() -> nx.MultiDiGraph:
    """A dossier D filed through account A (held by H, an officer S) from device V, IP I."""
    g = nx.MultiDiGraph()
    edges = [
        ("person:O", "dossier:D", "owns"), ("dossier:D", "account:A", "submitted_through"),
        ("person:H", "account:A", "holds"), ("dossier:D", "device:V", "used_device"),
        ("dossier:D", "ip:I", "from_ip"), ("ip:I", "network:N", "in_network"),
        ("dossier:D", "phone:P", "contact_phone"), ("dossier:D", "staff:S", "accepted_by"),
        ("staff:S", "person:H", "is_person"), ("dossier:D", "unit:U", "received_at"),
        ("person:O", "unit:U", "visited_desk:v1"),
    ]  # fmt: skip
    for u, v, k in edges:
        g.add_edge(u, v, key=k, type=k.split(":")[0])
    g.graph.update(focus="dossier:D", owner="person:O", holder="person:H")
    return g


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        # a broker's account: the dossier's account and who holds it
        ([{"code": "R101", "evidence": {"acct_new_unlinked_owners_30d": 5, "holder_relation": "x"}}],
         {("dossier:D", "account:A", "submitted_through"), ("person:H", "account:A", "holds")}),
        # a shared device and IP inside an office network
        ([{"code": "R203", "evidence": {"dev_staff_accounts": 1, "ip_in_unit_network": 1}}],
         {("dossier:D", "device:V", "used_device"), ("dossier:D", "ip:I", "from_ip"),
          ("ip:I", "network:N", "in_network")}),
        # the officer who accepted it holds the account
        ([{"code": "R205", "evidence": {"accepted_by_holder": 1, "accept_delay_min": 3}}],
         {("dossier:D", "staff:S", "accepted_by"), ("staff:S", "person:H", "is_person")}),
        # the owner was at the desk that day; the model's reason names the phone
        ([{"code": "R204", "evidence": {"owner_at_desk_today": 1, "unit_target_gap": 0.2}},
          {"code": "M.phone_accounts", "evidence": {"phone_accounts": 4, "typical": 1}}],
         {("person:O", "unit:U", "visited_desk"), ("dossier:D", "phone:P", "contact_phone")}),
        # nothing stands out: nothing is marked
        ([{"code": "M.pattern", "evidence": {}}], set()),
    ],
)  # fmt: skip
def test_suspicious_links_are_the_ones_the_reasons_point_at(
    reasons: list[dict[str, Any]], expected: set[tuple[str, str, str]]
) -> None:
    assert set(suspicious_edges(_star(), reasons)) == expected


def test_case_json_round_trips(case_store: CaseStore, loaded: LoadSummary) -> None:
    with case_store.session() as s:
        first = queue(s, QueueFilter(per_page=1)).items[0]
        detail = case_detail(s, first["id"])
    assert json.loads(json.dumps(detail)) == detail


def test_a_load_at_submission_draws_only_what_was_known_then(
    case_store: CaseStore, run: dict[str, Any], model_dir: Path
) -> None:
    ds = run["ds"]
    scored = score_dataset(ds, model_dir, at="submission", since="2025-12-15")
    summary = load_batch(case_store, ds, scored, model_dir, at="submission", secret=SECRET,
                         index=run["index"])  # fmt: skip
    assert summary.created == int(scored["flagged"].sum()) + summary.explored > summary.explored
    for c in all_cases(case_store):
        assert c.scored_at == "submission" and c.evidence is not None
        graph = c.evidence["graph"]
        # the acceptance comes after the submission: no officer is drawn yet
        assert not [e for e in graph["edges"] if e["type"] == "accepted_by"]
        # every related dossier was submitted before this one
        submitted = c.dossier["submitted_at"]
        assert all(r["submitted_at"] < submitted for r in c.evidence["related"])


def test_a_load_draws_its_share_below_the_threshold_to_teach_the_model(
    case_store: CaseStore, run: dict[str, Any], model_dir: Path
) -> None:
    summary = load(case_store, run, model_dir, explore_share=EXPLORE_SHARE, seed=7)
    want = flagged(run)
    assert summary.flagged == len(want)
    assert summary.explored == exploration_count(len(want)) > 0
    assert summary.created == summary.flagged + summary.explored
    scored = run["scored"].set_index("dossier_id")
    threshold = float(scored.loc[want.index, "risk_score"].min())
    cases = all_cases(case_store)
    drawn = [c for c in cases if c.chosen_by == "exploration"]
    assert len(drawn) == summary.explored
    for c in drawn:  # unflagged, with a known chance of having been drawn, and a whole case
        assert not scored.at[c.dossier_id, "flagged"]
        assert c.risk_score < threshold and 0 < c.propensity <= 1
        assert c.evidence is not None and c.evidence["graph"]["nodes"]
    assert all(c.propensity == 1.0 for c in cases if c.chosen_by == "queue")
    # the queue spreads them: any first page holds about their share
    with case_store.session() as s:
        first = queue(s, QueueFilter(per_page=40)).items
        loads = audit.entries(s, action="cases_load")
    share = sum(i["chosen_by"] == "exploration" for i in first) / len(first)
    assert abs(share - EXPLORE_SHARE) <= 0.05
    assert loads[0].detail["explore_seed"] == 7 and loads[0].detail["explored"] == len(drawn)
    # a second load draws again among dossiers without a case: never one twice
    again = load(case_store, run, model_dir, explore_share=EXPLORE_SHARE, seed=8)
    assert again.created == again.explored
    with case_store.session() as s:
        dossiers = list(s.scalars(sa.select(Case.dossier_id)))
    assert len(dossiers) == len(set(dossiers)) == summary.created + again.created


def test_load_refuses_an_impossible_exploration_share(
    case_store: CaseStore, run: dict[str, Any], model_dir: Path
) -> None:
    with pytest.raises(UsageError, match="explore share must be from 0 to below 1"):
        load(case_store, run, model_dir, explore_share=1.0)


def test_a_load_groups_the_flagged_cases_by_actor_and_a_reload_keeps_the_grouping(
    case_store: CaseStore, run: dict[str, Any], model_dir: Path
) -> None:
    from service.cases.models import Actor

    first = load(case_store, run, model_dir, explore_share=0.15, seed=7)

    def grouping() -> tuple[dict[str, int | None], dict[int, tuple[str, int]], dict[str, str]]:
        with case_store.session() as s:
            where = {d: a for d, a in s.execute(sa.select(Case.dossier_id, Case.actor_id))}
            chosen = {d: c for d, c in s.execute(sa.select(Case.dossier_id, Case.chosen_by))}
            actors = {a.id: (a.key, a.n_dossiers) for a in s.scalars(sa.select(Actor))}
        return where, actors, chosen

    where, actors, chosen = grouping()
    assert first.actors == len(actors) > 0
    # every flagged case is in an actor case; no exploration case is
    assert all((where[d] is None) == (c == "exploration") for d, c in chosen.items())
    # an actor's dossier count is its cases', and some actor holds several dossiers
    sizes: dict[int, int] = {}
    for a in where.values():
        if a is not None:
            sizes[a] = sizes.get(a, 0) + 1
    assert sizes == {i: n for i, (_, n) in actors.items()}
    assert max(sizes.values()) > 1 and len(actors) < first.flagged
    load(case_store, run, model_dir, explore_share=0.0)
    again, actors_again, _ = grouping()
    assert {d: a for d, a in again.items() if a is not None} == {
        d: a for d, a in where.items() if a is not None
    }
    assert actors_again == actors
