"""Cases by actor in the store: grouping, aggregates, one verdict per actor, API flags joining.

Four flagged dossiers built by hand, grouped as :func:`detector.actors.actor_cases`
would group them (the grouping frame is written by hand so the expected
answer can be read off it):

=======  ==================  ======  ============
dossier  actor               p       owner
=======  ==================  ======  ============
B1       account:acc-broker  0.9     O1
B2       account:acc-broker  0.8     O2
B3       account:acc-broker  0.5     O2 (again)
S1       dossier:S1          0.7     O9
=======  ==================  ======  ============

The broker's priority is the sum of p over its open dossiers plus a quarter of
the sum of p(1-p): 2.2 + 0.25 (0.09 + 0.16 + 0.25) = 2.325.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from case_data import make_case

from service.cases import audit
from service.cases._private import evidence_pseudonymiser
from service.cases.actors import (
    ActorFilter,
    actor_detail,
    actor_queue,
    place_in_actors,
    record_actor_verdict,
)
from service.cases.db import CaseStore
from service.cases.feeder import CaseFeeder
from service.cases.labels import verdict_labels
from service.cases.models import Actor, Case, Verdict
from service.cases.queue import CaseForbidden, CaseInputError, record_verdict
from service.cases.security import Who
from service.log import ScoringLog, log_engine

SECRET = b"test secret"
P = {"B1": 0.9, "B2": 0.8, "B3": 0.5, "S1": 0.7}
OWNERS = {"B1": "O1", "B2": "O2", "B3": "O2", "S1": "O9"}
BROKER = "account:" + evidence_pseudonymiser(SECRET)("ACC-BROKER")


def grouping() -> pd.DataFrame:
    rows = [(BROKER, "account", "******ER", d) for d in ("B1", "B2", "B3")]
    rows.append(("dossier:S1", "dossier", "S1", "S1"))
    return pd.DataFrame(rows, columns=["case_key", "actor_kind", "actor_label", "dossier_id"])


@pytest.fixture
def cases(case_store: CaseStore, who: dict[str, Who]) -> dict[str, int]:
    with case_store.session() as s:
        made = []
        for d, p in P.items():
            c = make_case(d, "U01", "2025-11", p)
            c.dossier = {**c.dossier, "owner_id": OWNERS[d], "account_id": "ACC-BROKER"}
            made.append(c)
        explore = make_case("X1", "U01", "2025-11", 0.05, chosen_by="exploration", propensity=0.2)
        s.add_all([*made, explore])
        s.flush()
        ids = {c.dossier_id: c.id for c in [*made, explore]}
        place_in_actors(s, grouping())
    return ids


def actors(store: CaseStore) -> dict[str, Actor]:
    with store.session() as s:
        return {a.key: a for a in s.scalars(sa.select(Actor))}


def test_flagged_dossiers_are_grouped_around_their_actor_with_its_aggregates(
    case_store: CaseStore, cases: dict[str, int]
) -> None:
    found = actors(case_store)
    assert set(found) == {BROKER, "dossier:S1"}
    broker = found[BROKER]
    assert (broker.kind, broker.n_dossiers, broker.n_owners, broker.n_open) == ("account", 3, 2, 3)
    assert broker.expected_misuse == pytest.approx(2.2)
    assert broker.priority == pytest.approx(2.2 + 0.25 * (0.09 + 0.16 + 0.25))
    assert (broker.max_risk, broker.main_type, broker.status) == (0.9, "identity_misuse", "open")
    with case_store.session() as s:
        no_actor = s.scalar(sa.select(Case.actor_id).where(Case.dossier_id == "X1"))
        page = actor_queue(s, ActorFilter())
        singles = actor_queue(s, ActorFilter(kind="dossier"))
    assert no_actor is None  # an exploration case stays a case of its own
    assert [i["key"] for i in page["items"]] == [BROKER, "dossier:S1"]  # by priority
    assert page["total"] == 2 and [i["key"] for i in singles["items"]] == ["dossier:S1"]


def test_placing_again_changes_nothing_and_a_reviewed_case_stays_where_it_was(
    case_store: CaseStore, cases: dict[str, int], who: dict[str, Who]
) -> None:
    with case_store.session() as s:
        record_verdict(s, cases["B3"], who["rita"], "legitimate", "family")
        again = place_in_actors(s, grouping())
    assert (again["moved"], again["kept_reviewed"]) == (0, 0)
    broker = actors(case_store)[BROKER]
    # B3 reviewed: two open dossiers left, the priority follows the verdict
    assert (broker.n_open, broker.n_dossiers) == (2, 3)
    assert broker.priority == pytest.approx(1.7 + 0.25 * (0.09 + 0.16))
    # a later grouping puts B3 elsewhere: reviewed, it stays with the broker; B2 (open) moves
    moved = grouping()
    moved.loc[moved["dossier_id"].isin(["B2", "B3"]), ["case_key", "actor_kind"]] = [
        "device:dev", "device",
    ]  # fmt: skip
    with case_store.session() as s:
        done = place_in_actors(s, moved)
    assert (done["moved"], done["kept_reviewed"]) == (1, 1)
    found = actors(case_store)
    assert (found[BROKER].n_dossiers, found["device:dev"].n_dossiers) == (2, 1)


def test_one_verdict_on_an_actor_labels_each_dossier_with_its_exceptions(
    case_store: CaseStore, cases: dict[str, int], who: dict[str, Who]
) -> None:
    with case_store.session() as s:
        broker_id = s.scalar(sa.select(Actor.id).where(Actor.key == BROKER))
        assert broker_id is not None
        done = record_actor_verdict(
            s, broker_id, who["rita"], "misuse", "identity_misuse", "one broker",
            exceptions={cases["B3"]: ("legitimate", "family")},
        )  # fmt: skip
        labels = verdict_labels(s)
        detail = actor_detail(s, broker_id)
        n_verdicts = s.scalar(sa.select(sa.func.count(Verdict.id)))
    assert (done.applied, done.exceptions, len(done.verdicts)) == (2, 1, 3)
    assert n_verdicts == 3  # one ordinary verdict per dossier, so one label each
    assert dict(zip(labels["dossier_id"], labels["proxy_type"], strict=True)) == {
        "B1": "identity_misuse",
        "B2": "identity_misuse",
        "B3": "family",
    }
    assert (detail["status"], detail["verdict_type"], detail["n_open"]) == (
        "misuse", "identity_misuse", 0,
    )  # fmt: skip
    assert detail["priority"] == 0.0
    assert [d["dossier_id"] for d in detail["dossiers"]] == ["B1", "B2", "B3"]  # riskiest first
    assert {d["status"] for d in detail["dossiers"]} == {"misuse", "legitimate"}
    with case_store.session() as s, pytest.raises(CaseInputError, match="no dossier left"):
        record_actor_verdict(s, broker_id, who["rita"], "misuse", "identity_misuse")


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("misuse", "family"), CaseInputError, "proxy_type"),
        (("maybe", None), CaseInputError, "decision"),
    ],
)
def test_a_bad_actor_verdict_names_its_field_and_records_nothing(
    case_store: CaseStore,
    cases: dict[str, int],
    who: dict[str, Who],
    args: tuple[str, str | None],
    error: type[Exception],
    match: str,
) -> None:
    with case_store.session() as s:
        broker_id = s.scalar(sa.select(Actor.id).where(Actor.key == BROKER))
    with pytest.raises(error, match=match), case_store.session() as s:
        record_actor_verdict(s, broker_id, who["rita"], *args)
    with pytest.raises(CaseInputError, match="exceptions"), case_store.session() as s:
        # S1 is not the broker's
        record_actor_verdict(s, broker_id, who["rita"], "misuse", "identity_misuse",
                             exceptions={cases["S1"]: ("legitimate", "self")})  # fmt: skip
    with pytest.raises(CaseForbidden), case_store.session() as s:
        record_actor_verdict(s, broker_id, who["vera"], "misuse", "identity_misuse")
    with case_store.session() as s:
        assert s.scalar(sa.select(sa.func.count(Verdict.id))) == 0
        assert audit.entries(s, action="verdict") == []


def _answer(dossier_id: str, proxy_type: str) -> dict[str, Any]:
    return {"dossier_id": dossier_id, "risk_score": 0.8, "proxy_type": proxy_type,
            "flagged": True, "probabilities": {proxy_type: 0.8, "self": 0.2},
            "reasons": [], "data_gaps": [], "model_version": "m-api"}  # fmt: skip


def test_an_api_flag_joins_the_open_actor_of_its_account_or_opens_its_own(
    case_store: CaseStore, cases: dict[str, int], tmp_path: Path
) -> None:
    log = ScoringLog(log_engine(f"sqlite:///{tmp_path / 'log.db'}"))
    base = {"unit_id": "U01", "channel": "online", "submitted_at": "2025-12-02T09:00:00+07:00"}
    # the broker's account, another owner: it joins the broker's case
    log.record("A1", 0, False, {**base, "dossier_id": "A1", "account_id": "ACC-BROKER",
                                "owner_id": "O5"}, _answer("A1", "identity_misuse"), "m")  # fmt: skip
    # an account nobody else used: a case of its own
    log.record("A2", 0, False, {**base, "dossier_id": "A2", "account_id": "ACC-LONE",
                                "owner_id": "O6"}, _answer("A2", "identity_misuse"), "m")  # fmt: skip
    assert CaseFeeder(case_store, log, SECRET).run_once() == 2
    found = actors(case_store)
    with case_store.session() as s:
        where = {d: a for d, a in s.execute(sa.select(Case.dossier_id, Case.actor_id))}
    assert where["A1"] == found[BROKER].id
    assert (found[BROKER].n_dossiers, found[BROKER].n_owners) == (4, 3)  # aggregates follow
    assert found["dossier:A2"].kind == "dossier" and where["A2"] == found["dossier:A2"].id


def test_migration_0005_adds_the_actors_and_goes_back(
    case_store: CaseStore, cases: dict[str, int]
) -> None:
    from alembic import command

    from service.cases.db import alembic_config, migrate

    def shape() -> tuple[set[str], set[str]]:
        inspector = sa.inspect(case_store.engine)
        return set(inspector.get_table_names()), {c["name"] for c in inspector.get_columns("cases")}

    cfg = alembic_config(str(case_store.engine.url))
    with case_store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    tables, columns = shape()
    assert "actors" not in tables and "actor_id" not in columns
    migrate(case_store.engine)
    tables, columns = shape()
    assert "actors" in tables and "actor_id" in columns
    with case_store.session() as s:  # the cases are kept, without an actor until the next load
        assert s.scalar(sa.select(sa.func.count(Case.id)).where(Case.actor_id.is_(None))) == 5
