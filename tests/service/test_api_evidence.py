"""Issue #11, item 3: an API case gets the same evidence subgraph as a batch case.

The first later month of the small province is sent to the API in
submission order, as the portal would send it; the feeder turns the flagged
answers into cases. Each API case's graph must equal the graph a batch case
of the same dossier gets (``detector score --at submission --to-db``: the
evidence subgraph at submission over the whole served folder, marked by its
reasons, pseudonymised with the installation's key): same nodes, edges and
attributes. Both draw the dossiers submitted strictly before this one, so the
later months the batch folder also holds change nothing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from svc import PORTAL, STATE_SECRET

from features import EntityIndex, evidence_subgraph, mark, read_dataset, to_json
from service.cases._evidence import MAX_RELATED, related_dossiers, suspicious_edges
from service.cases._private import evidence_pseudonymiser
from service.cases.feeder import CaseFeeder, feed_round
from service.cases.models import Case

pytestmark = pytest.mark.slow


def _by_id(graph: dict[str, Any]) -> tuple[Any, ...]:
    nodes = {n["id"]: n for n in graph["nodes"]}
    edges = {(e["source"], e["target"], e["key"]): e for e in graph["edges"]}
    return nodes, edges, graph["graph"]


def test_api_cases_carry_the_batch_cases_evidence(
    client: TestClient, split: dict[str, Any]
) -> None:
    app: Any = client.app  # one worker: every dossier it scored is in its graph (any store)
    first = min(pd.Timestamp(b["submitted_at"]).strftime("%Y-%m") for b in split["later"])
    month = [
        b for b in split["later"] if pd.Timestamp(b["submitted_at"]).strftime("%Y-%m") == first
    ]
    assert len(month) > 1000
    answers = {}
    for body in month:
        r = client.post("/v1/score", json=body, headers=PORTAL)
        assert r.status_code == 200, r.text
        answers[r.json()["dossier_id"]] = r.json()
    flagged = [i for i, a in answers.items() if a["flagged"]]
    assert len(flagged) > 10
    engine = app.state.engine
    feed_round(CaseFeeder(app.state.cases, engine.log_store, engine.settings.secret()))
    with app.state.cases.session() as s:
        cases = {
            c.dossier_id: c.evidence
            for c in s.scalars(sa.select(Case).where(Case.dossier_id.in_(flagged)))
        }
    assert set(cases) == set(flagged)
    # the batch's side, as service.cases.load draws it for a case scored at submission
    index = EntityIndex.from_dataset(read_dataset(split["served"]))
    pseudonymise = evidence_pseudonymiser(STATE_SECRET.encode())
    others = 0
    for dossier_id in flagged:
        graph = evidence_subgraph(index, dossier_id, at="submission", max_related=MAX_RELATED)
        reasons = answers[dossier_id]["reasons"]  # the batch's (test_parity holds them equal)
        batch = to_json(mark(graph, suspicious_edges(graph, reasons), strict=False), pseudonymise)
        api = cases[dossier_id]
        assert _by_id(api["graph"]) == _by_id(batch), dossier_id
        assert api["related"] == related_dossiers(graph), dossier_id
        others += len(api["related"])
        # no star: the other dossiers sharing an actor are drawn
    assert others > 0, "no flagged dossier shared an actor: the comparison drew no neighbours"
