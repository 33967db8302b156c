"""The entity graph, the evidence subgraph of one dossier, marking and JSON export.

Most tests read the hand-made world of ``hand_made.py`` (four people, four
dossiers), where every expected node and edge can be checked by reading the
tables; the typology tests read a small simulated province, whose scenarios
say who really filed each dossier.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from hand_made import AN, BINH, CUC, DUNG, MST, Tables

from detector.simulate import SimConfig, simulate, write_province
from features import Dataset, UsageError, mask_value, read_dataset
from features.graph import (
    EDGE_TYPES,
    NODE_TYPES,
    EntityIndex,
    build_graph,
    evidence_subgraph,
    mark,
    to_json,
)

Folder = Callable[..., Path]
Sim = tuple[EntityIndex, pd.DataFrame, Dataset]


def _ix(folder_of: Folder, tables: Tables) -> EntityIndex:
    return EntityIndex.from_dataset(read_dataset(folder_of(tables)))


def _edges(g: nx.MultiDiGraph, etype: str) -> set[tuple[str, str]]:
    return {(u, v) for u, v, t in g.edges(data="type") if t == etype}


def _out(g: nx.MultiDiGraph, node: str, etype: str) -> list[str]:
    return [v for _, v, t in g.out_edges(node, data="type") if t == etype]


def _in(g: nx.MultiDiGraph, node: str, etype: str) -> list[str]:
    return [u for u, _, t in g.in_edges(node, data="type") if t == etype]


# --------------------------------------------------------------------------- whole graph


def test_whole_graph_has_every_node_and_edge_type(tables: Tables, folder_of: Folder) -> None:
    # BASE has no dossier from an office network; send D4 from U1's 10.20.0.0/16
    tables["dossiers"][3]["ip"] = "10.20.5.5"
    g = build_graph(read_dataset(folder_of(tables)))
    # every table of BASE is filled, so every type of the spec must appear, and nothing else
    assert {t for _, t in g.nodes(data="type")} == set(NODE_TYPES)
    assert {t for *_, t in g.edges(data="type")} == set(EDGE_TYPES)
    assert all(d.get("label") for _, d in g.nodes(data=True))
    # personal values live only in node keys: person, phone and token labels are masked
    raw = {AN, BINH, CUC, DUNG, "0903123456", "0912000111", "tok-1", "tok-2"}
    assert not [x for _, d in g.nodes(data=True) for x in d.values() if x in raw]
    assert not [x for *_, d in g.edges(data=True) for x in d.values() if x in raw]
    assert g.nodes[f"person:{AN}"]["label"] == "**********45"
    # the relations table says "An parent_of Cúc" once: one edge, in that direction only
    assert _edges(g, "relation") == {(f"person:{AN}", f"person:{CUC}")}
    assert g.edges[f"person:{AN}", f"person:{CUC}", "relation:parent_of"]["kind"] == "parent_of"
    # mandate M1 is granted by Bình to An
    m = g.edges[f"person:{BINH}", f"person:{AN}", "mandate:M1"]
    assert (m["authorization_id"], m["valid_from"]) == ("M1", pd.Timestamp("2024-01-01"))
    # the tax code is a business, represented by An, holding account A2
    assert g.nodes[f"business:{MST}"]["type"] == "business"
    assert _edges(g, "legal_rep") == {(f"person:{AN}", f"business:{MST}")}
    assert _in(g, "account:A2", "holds") == [f"business:{MST}"]
    # officer S1 is Dũng and works at U2; D4 came from U1's office network
    assert _out(g, "staff:S1", "is_person") == [f"person:{DUNG}"]
    assert g.edges["staff:S1", "unit:U2", "works_at"]["role"] == "one_stop_officer"
    assert _out(g, "ip:10.20.5.5", "in_network") == ["network:10.20.0.0/16"]
    assert g.nodes["network:10.20.0.0/16"]["unit_id"] == "U1"
    d1 = g.nodes["dossier:D1"]
    assert (d1["channel"], d1["unit_id"], d1["declared_relation"]) == ("online", "U1", "self")
    assert d1["submitted_at"] == pd.Timestamp("2025-03-14T08:12:45+07:00")


@pytest.mark.parametrize(
    ("until", "kept"),
    [
        # D1 08:12 and D2 08:30 on the 14th, D3 on the 15th, D4 on the 20th
        ("2025-03-15T00:00:00+07:00", {"D1", "D2"}),
        # strictly before: D2, submitted at exactly 08:30, is not yet there
        ("2025-03-14T08:30:00+07:00", {"D1"}),
        # a naive moment is local time, so this is the same instant as the first case
        (pd.Timestamp("2025-03-15 00:00"), {"D1", "D2"}),
    ],
)
def test_until_keeps_only_earlier_dossiers(
    tables: Tables, folder_of: Folder, until: object, kept: set[str]
) -> None:
    g = build_graph(read_dataset(folder_of(tables)), until=until)  # type: ignore[arg-type]
    assert {d["label"] for _, d in g.nodes(data=True) if d["type"] == "dossier"} == kept
    # D1 was accepted on the 16th, after every `until` above: not known yet
    assert "dossier:D1" not in {u for u, _ in _edges(g, "accepted_by")}


# --------------------------------------------------------------------- hand-made evidence


def test_evidence_of_a_parent_filing_for_a_child(tables: Tables, folder_of: Folder) -> None:
    g = evidence_subgraph(_ix(folder_of, tables), "D4")
    owner, holder = f"person:{CUC}", f"person:{AN}"
    assert (g.graph["focus"], g.graph["owner"], g.graph["holder"]) == ("dossier:D4", owner, holder)
    # An (holder of A1) is Cúc's parent, and both are in household H1
    assert (holder, owner) in _edges(g, "relation")
    assert _out(g, owner, "member_of") == _out(g, holder, "member_of") == ["household:H1"]
    # the claimed mandate M1 is registered, but from Bình, not from the owner Cúc
    assert g.nodes["mandate:M1"]["listed"] is True
    assert _edges(g, "mandate") == {(f"person:{BINH}", holder)}
    # An also represents the business; the other dossier through A1 is D1, An's own
    assert (holder, f"business:{MST}") in _edges(g, "legal_rep")
    assert set(_in(g, "account:A1", "submitted_through")) == {"dossier:D4", "dossier:D1"}
    assert _in(g, "dossier:D1", "owns") == [holder]
    # D1 shares A1, dev-1, the phone and tok-1 with D4; the counts include D4 itself
    counts = {k: g.nodes["account:A1"][k] for k in ("dossier_count", "owner_count", "shown")}
    assert counts == {"dossier_count": 2, "owner_count": 2, "shown": 1}
    assert ("dossier:D1", "device:dev-1") in _edges(g, "used_device")
    # D4 was accepted by S1 (Dũng, at U2) although it was received at U1
    assert _out(g, "dossier:D4", "accepted_by") == ["staff:S1"]
    assert _out(g, "staff:S1", "works_at") == ["unit:U2"]


def test_evidence_shows_the_owner_at_the_desk_that_day(tables: Tables, folder_of: Folder) -> None:
    # Bình visited U2 at 08:00 on the 14th and filed D2 there at 08:30
    g = evidence_subgraph(_ix(folder_of, tables), "D2")
    assert _out(g, f"person:{BINH}", "visited_desk") == ["unit:U2"]
    # at submission the visit (before it) stays, the acceptance (after it) goes
    g = evidence_subgraph(_ix(folder_of, tables), "D2", at="submission")
    assert _out(g, f"person:{BINH}", "visited_desk") == ["unit:U2"]
    assert _out(g, "dossier:D2", "accepted_by") == []


@pytest.mark.parametrize(
    ("ip", "network", "unit"),
    [
        ("2001:db8::5", "network:2001:db8::/32", "U2"),  # IPv6 in U2's network
        ("10.30.0.7", "network:10.30.0.0/24", "U2"),  # the /24 inside U1's /16 wins
        ("10.20.9.9", "network:10.20.0.0/16", "U1"),
        ("113.161.1.10", None, None),  # a home connection: no office network
    ],
)
def test_ip_falls_in_the_most_specific_office_network(
    tables: Tables, folder_of: Folder, ip: str, network: str | None, unit: str | None
) -> None:
    tables["units"][0]["office_networks"] = "10.20.0.0/16;10.30.0.0/16"
    tables["dossiers"][2]["ip"] = ip
    g = evidence_subgraph(_ix(folder_of, tables), "D3")
    assert _out(g, f"ip:{ip}", "in_network") == ([network] if network else [])
    if network:
        assert g.nodes[network]["unit_id"] == unit


def test_point_in_time_hides_later_dossiers_hand_made(tables: Tables, folder_of: Folder) -> None:
    ix = _ix(folder_of, tables)
    # D4 (the 20th) shares A1 with D1 (the 14th): at review D1's picture shows D4...
    assert "dossier:D4" in evidence_subgraph(ix, "D1")
    # ...but D4 did not exist when D1 was submitted, nor on the 18th (naive = local time)
    for at in ("submission", "2025-03-18T00:00:00+07:00", pd.Timestamp("2025-03-18")):
        g = evidence_subgraph(ix, "D1", at=at)
        assert "dossier:D4" not in g
        assert g.nodes["account:A1"]["dossier_count"] == 1
        # D1 was accepted on the 16th: known on the 18th, not at submission
        assert _out(g, "dossier:D1", "accepted_by") == ([] if at == "submission" else ["staff:S1"])


def test_evidence_without_optional_tables(tables: Tables, folder_of: Folder) -> None:
    # only the two required tables: the picture is smaller, never an error
    g = evidence_subgraph(_ix(folder_of, {k: tables[k] for k in ("dossiers", "accounts")}), "D4")
    assert g.nodes["unit:U1"]["known"] is False
    assert g.nodes["mandate:M1"]["listed"] is False  # claimed, but no register to find it in
    assert g.nodes[f"person:{CUC}"]["known"] is False
    assert _edges(g, "relation") == set()


def test_bad_requests_raise_usage_errors(tables: Tables, folder_of: Folder) -> None:
    ix = _ix(folder_of, tables)
    with pytest.raises(UsageError, match="no dossier with dossier_id 'D9'"):
        evidence_subgraph(ix, "D9")
    with pytest.raises(UsageError, match="via: unknown entity 'email'"):
        evidence_subgraph(ix, "D1", via=["email"])
    with pytest.raises(UsageError, match="at must be a timestamp"):
        evidence_subgraph(ix, "D1", at="not a date")


# ------------------------------------------------------------------------- mark, to_json


def test_mark_flags_edges_and_hides_ids_in_errors(tables: Tables, folder_of: Folder) -> None:
    g = evidence_subgraph(_ix(folder_of, tables), "D4")
    holder, owner = f"person:{AN}", f"person:{CUC}"
    # a bare type marks every edge of that type between the pair (here relation:parent_of)
    mark(g, [("dossier:D4", "account:A1", "submitted_through"), (holder, owner, "relation")])
    flagged = {(u, v, k) for u, v, k, s in g.edges(keys=True, data="suspicious") if s}
    assert flagged == {
        ("dossier:D4", "account:A1", "submitted_through"),
        (holder, owner, "relation:parent_of"),
    }
    with pytest.raises(UsageError, match="no edge 'holds'") as err:
        mark(g, [(owner, "account:A1", "holds")])  # Cúc does not hold A1
    assert CUC not in str(err.value)  # error messages end up in logs
    mark(g, [(owner, "account:A1", "holds")], strict=False)  # skipped, no error


def test_to_json_pseudonymises_every_personal_value(tables: Tables, folder_of: Folder) -> None:
    g = mark(
        evidence_subgraph(_ix(folder_of, tables), "D4"),
        [("dossier:D4", "account:A1", "submitted_through")],
    )
    out = to_json(g, mask_value)
    text = json.dumps(out, ensure_ascii=False)
    # no citizen ID, phone or payment token of the world in clear, and no 12-digit run at all
    for raw in (AN, BINH, CUC, DUNG, "0903123456", "tok-1"):
        assert raw not in text
    assert re.search(r"(?<!\d)\d{12}(?!\d)", text) is None
    node = {n["id"]: n for n in out["nodes"]}
    assert node[f"person:{mask_value(AN)}"]["label"] == mask_value(AN)
    assert out["graph"]["holder"] == f"person:{mask_value(AN)}"
    # times are ISO strings; the business tax code is public and stays
    assert node["dossier:D4"]["submitted_at"] == "2025-03-20T20:00:00+07:00"
    assert f"business:{MST}" in node
    edge = next(
        e for e in out["edges"] if e["type"] == "submitted_through" and e["source"] == "dossier:D4"
    )
    assert edge["suspicious"] is True
    ids = {n["id"] for n in out["nodes"]}
    assert {e["source"] for e in out["edges"]} | {e["target"] for e in out["edges"]} <= ids


def test_to_json_keeps_colliding_pseudonyms_apart(tables: Tables, folder_of: Folder) -> None:
    # a careless pseudonymiser maps everyone to "x": the nodes must still be distinct
    out = to_json(evidence_subgraph(_ix(folder_of, tables), "D4"), lambda _: "x")
    people = [n["id"] for n in out["nodes"] if n["type"] == "person"]
    # Cúc (owner), An (holder), Bình (grantor of M1), Dũng (officer S1 who accepted D4)
    assert len(people) == len(set(people)) == 4


# ------------------------------------------------------------------- simulated province


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    out = tmp_path_factory.mktemp("graph-province")
    write_province(simulate(SimConfig(dossiers=5000, months=3, seed=1)), out)
    ds = read_dataset(out / "data")
    scenarios = pd.read_csv(out / "scenarios.csv", dtype=str)
    scenarios = scenarios.merge(ds.tables["dossiers"], on="dossier_id")
    return EntityIndex.from_dataset(ds), scenarios, ds


def _first(scenarios: pd.DataFrame, scenario: str, *needed: str) -> str:
    rows = scenarios[
        (scenarios["scenario"] == scenario) & scenarios[list(needed)].notna().all(axis=1)
    ]
    return str(rows["dossier_id"].iloc[0])


def _holder(g: nx.MultiDiGraph, dossier: str) -> list[str]:
    return [h for a in _out(g, dossier, "submitted_through") for h in _in(g, a, "holds")]


def test_kiosk_device_serves_many_owners_each_on_their_own_account(sim: Sim) -> None:
    ix, scenarios, _ = sim
    focus = "dossier:" + _first(scenarios, "self_kiosk", "device_id", "ip")
    g = evidence_subgraph(ix, focus.split(":", 1)[1])
    (device,) = _out(g, focus, "used_device")
    others = [d for d in _in(g, device, "used_device") if d != focus]
    owners = {o for d in others for o in _in(g, d, "owns")}
    # a hall kiosk: several other dossiers, several different owners...
    assert len(others) >= 3 and len(owners) >= 3
    # ...each filed by the owner through the owner's own account (guided self-service)
    assert all(_in(g, d, "owns") == _holder(g, d) != [] for d in others)
    # and the kiosk is on the receiving unit's office network
    (ip,) = _out(g, focus, "from_ip")
    (network,) = _out(g, ip, "in_network")
    assert g.nodes[network]["unit_id"] == g.nodes[focus]["unit_id"]


def test_broker_files_for_many_unrelated_owners(sim: Sim) -> None:
    ix, scenarios, _ = sim
    focus = "dossier:" + _first(scenarios, "misuse_broker_own", "account_id", "device_id")
    g = evidence_subgraph(ix, focus.split(":", 1)[1])
    (holder,) = _holder(g, focus)
    (account,) = _out(g, focus, "submitted_through")
    (device,) = _out(g, focus, "used_device")
    others = {d for d in _in(g, account, "submitted_through") + _in(g, device, "used_device")}
    # the broker files his own dossiers on the same account and device too; the
    # pattern is the many other owners
    owners = {o for d in others for o in _in(g, d, "owns")} - {holder}
    assert len(owners) >= 5
    # relations and households among the drawn people are all in the graph, so none
    # between the broker and these owners means none in the data either
    households = set(_out(g, holder, "member_of"))
    for owner in owners:
        assert not g.has_edge(holder, owner) and not g.has_edge(owner, holder)
        assert not households & set(_out(g, owner, "member_of"))
    # the totals on the account count at least the owners drawn through it
    through_account = {o for d in _in(g, account, "submitted_through") for o in _in(g, d, "owns")}
    assert g.nodes[account]["owner_count"] >= len(through_account) >= 5


def test_officer_proxy_account_is_held_by_staff_of_the_receiving_unit(sim: Sim) -> None:
    ix, scenarios, _ = sim
    focus = "dossier:" + _first(scenarios, "officer_proxy_staff_account", "account_id")
    g = evidence_subgraph(ix, focus.split(":", 1)[1])
    (holder,) = _holder(g, focus)
    assert holder != g.graph["owner"]  # the officer filed for someone else
    staff = _in(g, holder, "is_person")
    units = {u for s in staff for u in _out(g, s, "works_at")}
    assert _out(g, focus, "received_at")[0] in units


def test_at_submission_shows_no_later_dossier(sim: Sim) -> None:
    ix, scenarios, _ = sim
    broker = scenarios[scenarios["scenario"] == "misuse_broker_own"].dropna(subset=["account_id"])
    busiest = broker["account_id"].value_counts().index[0]
    rows = broker[broker["account_id"] == busiest].sort_values("submitted_at")
    dossier_id = str(rows["dossier_id"].iloc[len(rows) // 2])  # one in the middle of its run
    focus = f"dossier:{dossier_id}"

    def later(g: nx.MultiDiGraph) -> list[str]:
        t0 = g.nodes[focus]["submitted_at"]
        return [
            n
            for n, d in g.nodes(data=True)
            if d["type"] == "dossier" and d["submitted_at"] >= t0 and n != focus
        ]

    # at review the account's later dossiers are drawn (most recent first)...
    assert later(evidence_subgraph(ix, dossier_id))
    g = evidence_subgraph(ix, dossier_id, at="submission")
    # ...at submission none of them, and no acceptance (it comes after submission)
    assert later(g) == []
    assert _edges(g, "accepted_by") == set()
    assert g.graph["at"] == g.nodes[focus]["submitted_at"]


def test_evidence_is_a_subgraph_of_the_whole_graph(sim: Sim) -> None:
    # both are drawn from the same index by the same code, so they must agree exactly
    ix, scenarios, ds = sim
    whole = build_graph(ds)
    for dossier_id in scenarios["dossier_id"].iloc[::250]:
        g = evidence_subgraph(ix, dossier_id)
        for node, data in g.nodes(data=True):
            assert whole.nodes[node]["type"] == data["type"]
            assert whole.nodes[node]["label"] == data["label"]
        for u, v, k, data in g.edges(keys=True, data=True):
            assert whole.edges[u, v, k] == data


def test_to_json_of_a_broker_picture_has_no_raw_ids(sim: Sim) -> None:
    ix, scenarios, _ = sim
    g = evidence_subgraph(ix, _first(scenarios, "misuse_broker_own", "account_id"))
    raw = [
        n.split(":", 1)[1] for n, t in g.nodes(data="type") if t in ("person", "phone", "payment")
    ]
    assert len(raw) > 10  # a broker picture is full of people
    text = json.dumps(to_json(g, mask_value))
    assert not [r for r in raw if r in text]
