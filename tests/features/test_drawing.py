"""Drawing an evidence subgraph: colours by type, a legend, and no personal value in clear.

The graphs come from the hand-made world (``hand_made.py``): D4 is An filing
for his daughter Cúc through his own account A1, claiming Bình's mandate M1;
D2 is Bình at the desk, who granted M1 to An.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest
from hand_made import AN, BINH, CUC, DUNG, Tables
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from features import EntityIndex, mask_value, read_dataset
from features.drawing import NODE_COLOURS, _skeleton, draw_evidence, evidence_labels
from features.graph import NODE_TYPES, evidence_subgraph

Folder = Callable[..., Path]


@pytest.fixture
def index(tables: Tables, folder_of: Folder) -> EntityIndex:
    return EntityIndex.from_dataset(read_dataset(folder_of(tables)))


def _axes() -> Axes:
    # a bare Figure needs no GUI backend, so the test runs headless anywhere
    return Figure(figsize=(8, 6)).subplots()


def _all_text(ax: Axes) -> str:
    legend = ax.get_legend()
    parts = [t.get_text() for t in ax.texts]
    parts += [t.get_text() for t in legend.get_texts()] if legend else []
    return "\n".join(parts)


def test_every_node_type_has_its_own_colour() -> None:
    assert set(NODE_COLOURS) == set(NODE_TYPES)
    assert len(set(NODE_COLOURS.values())) == len(NODE_COLOURS)


def test_nodes_are_coloured_by_type_with_a_legend(index: EntityIndex) -> None:
    g = evidence_subgraph(index, "D4")
    ax = draw_evidence(g, _axes())
    # one node collection per type present, in that type's colour
    drawn = {c.get_label(): to_hex(c.get_facecolor()[0]) for c in ax.collections}
    present = {t for _, t in g.nodes(data="type")}
    assert drawn == {t: NODE_COLOURS[t] for t in present}
    # D4 claims a mandate and was accepted by an officer: both types are in the picture
    assert {"mandate", "staff", "person", "account"} <= present
    legend_box = ax.get_legend()
    assert legend_box is not None
    legend = [t.get_text() for t in legend_box.get_texts()]
    assert set(legend) >= present
    assert "who filed (owns, holds, submitted through)" in legend


def test_no_citizen_id_is_drawn_in_clear(index: EntityIndex) -> None:
    g = evidence_subgraph(index, "D4")
    # the node keys do hold raw IDs (person:079305000003): the drawing must not use them
    assert f"person:{CUC}" in g
    text = _all_text(draw_evidence(g, _axes(), labels="all"))
    for raw in (AN, BINH, CUC, DUNG):
        assert raw not in text
    # owner Cúc and holder An are named as such, masked
    assert f"owner\n{mask_value(CUC)}" in text
    assert f"holder\n{mask_value(AN)}" in text
    assert "THIS DOSSIER\nD4" in text


def test_key_labels_leave_out_the_other_dossiers(index: EntityIndex) -> None:
    g = evidence_subgraph(index, "D4")
    # D1 went through the same account A1, so it is drawn, but unlabelled by default
    assert "dossier:D1" in g
    assert "dossier:D1" not in evidence_labels(g, "key")
    assert evidence_labels(g, "all")["dossier:D1"] == "D1"
    assert evidence_labels(g, "none") == {}
    # a shared entity says how many dossiers and owners went through it (D1 for An, D4 for Cúc)
    assert evidence_labels(g)["account:A1"] == "A1\n2 dossiers, 2 owners"


def test_a_granted_mandate_is_laid_out_beside_its_parties(index: EntityIndex) -> None:
    g = evidence_subgraph(index, "D2")
    # Bình's mandate M1 is drawn as a node with no edge of its own (no dossier claims it here)
    assert g.degree("mandate:M1") == 0
    skeleton = _skeleton(g)
    assert set(skeleton["mandate:M1"]) == {f"person:{BINH}", f"person:{AN}"}
    assert nx.has_path(skeleton, "mandate:M1", "dossier:D2")
    ax = draw_evidence(g, _axes())
    assert ax.get_title() == ""  # the caller titles the picture
