"""The live entity index: a dossier added one at a time is drawn as if the folder held it.

A small simulated province is cut at a date: the index of the earlier part
grows by the later dossiers in submission order, as the scoring API grows
it. Each later dossier's evidence at submission, drawn from the grown index
while it is being scored, must equal the one drawn from the whole folder's
index, since both hold exactly the dossiers submitted before it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import networkx as nx
import pytest

from detector.simulate import SimConfig, simulate, write_province
from features import Dataset, LiveIndex, read_dataset
from features.graph import EntityIndex, evidence_subgraph


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    out = tmp_path_factory.mktemp("live-graph-province")
    write_province(simulate(SimConfig(dossiers=4000, months=3, seed=3)), out)
    return read_dataset(out / "data")


def _picture(g: nx.MultiDiGraph) -> tuple[Any, ...]:
    nodes = {n: dict(d) for n, d in g.nodes(data=True)}
    edges = {(u, v, k): dict(d) for u, v, k, d in g.edges(keys=True, data=True)}
    return nodes, edges, dict(g.graph)


def test_a_grown_index_draws_what_the_whole_folder_draws(province: Dataset) -> None:
    d = province.tables["dossiers"]
    assert d["dossier_id"].is_unique  # a repeated row would be drawn twice by the batch only
    cut = d["submitted_at"].sort_values().iloc[2 * len(d) // 3]  # the last month or so
    early = d[d["submitted_at"] < cut]
    later = d[d["submitted_at"] >= cut].sort_values("submitted_at", kind="stable")
    assert len(early) > 1000 and len(later) > 500
    history = dataclasses.replace(
        province, tables={**province.tables, "dossiers": early.reset_index(drop=True)}
    )
    whole = EntityIndex.from_dataset(province)
    live = LiveIndex.from_dataset(history)
    compared = shared = 0
    for i, (_, row) in enumerate(later.iterrows()):
        dossier = row.to_dict()
        if i % 7 == 0:  # a sample, drawn before the dossier joins, as the engine draws it
            with live.including(dossier):
                got = evidence_subgraph(live, dossier["dossier_id"], at="submission")
            want = evidence_subgraph(whole, dossier["dossier_id"], at="submission")
            assert _picture(got) == _picture(want), dossier["dossier_id"]
            compared += 1
            shared += any(str(n).startswith("dossier:") for n in got if n != got.graph["focus"])
            assert dossier["dossier_id"] not in live.dossier_row  # taken out again
        live.add(dossier)
    assert compared > 70
    assert shared > 10  # the comparison covered other dossiers, live ones among them


def test_adding_twice_changes_nothing(province: Dataset) -> None:
    live = LiveIndex.from_dataset(province)
    first = province.tables["dossiers"].iloc[0].to_dict()
    before = len(live.d["t"])
    live.add(first)  # already in the folder
    with live.including(first):
        pass
    assert len(live.d["t"]) == before
    assert first["dossier_id"] in live.dossier_row
