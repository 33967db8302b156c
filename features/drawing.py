"""Draw an evidence subgraph for a person to read (notebooks, printed case files).

:func:`draw_evidence` lays out the graph of :func:`features.evidence_subgraph`
around its focus dossier, colours every node by its type (the same colour for
a type in every picture, :data:`NODE_COLOURS`) and styles edges by what they
say (who filed, a known link between people, a shared device or IP, the
unit's side). Labels come from the nodes' ``label`` attribute, which the graph
already masks for personal types (``**********45``); a node key, which holds
the raw citizen ID, phone or payment token, is never drawn.

matplotlib is imported only when something is drawn, so code that merely
imports :mod:`features` (the scoring service) never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx
import numpy as np

from features._graph_draft import NODE_TYPES, PERSONAL_NODE_TYPES
from features.ids import mask_value

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["EDGE_STYLES", "NODE_COLOURS", "draw_evidence", "evidence_labels"]

#: one colour per node type, the same in every picture
NODE_COLOURS: dict[str, str] = {
    "dossier": "#4c72b0",
    "account": "#dd8452",
    "person": "#55a868",
    "business": "#2f6b3a",
    "household": "#b5cf6b",
    "device": "#c44e52",
    "ip": "#8172b3",
    "network": "#c5b0d5",
    "phone": "#937860",
    "payment": "#da8bc3",
    "staff": "#333333",
    "unit": "#ccb974",
    "mandate": "#64b5cd",
}
_UNKNOWN_COLOUR = "#bbbbbb"

#: edge groups, in legend order: (legend text, edge types, colour, line style)
EDGE_STYLES: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("who filed (owns, holds, submitted through)",
     ("owns", "holds", "submitted_through", "claims_mandate"), "#222222", "solid"),
    ("known link (relation, household, mandate, legal rep)",
     ("relation", "member_of", "mandate", "legal_rep", "is_person"), "#2e8b57", "solid"),
    ("shared device, IP, phone or payment",
     ("used_device", "from_ip", "in_network", "contact_phone", "paid_by"), "#999999", "dashed"),
    ("unit side (received, accepted, works at, desk visit)",
     ("received_at", "accepted_by", "works_at", "visited_desk"), "#b8860b", "dotted"),
)  # fmt: skip
_SUSPICIOUS = "#d62728"
#: node sizes (points^2): the many dossiers and people small, the entities that explain them large
_SIZE = {"dossier": 140, "person": 140, "household": 220, "business": 220} | {
    t: 380
    for t in ("account", "device", "ip", "phone", "payment", "staff", "unit", "network", "mandate")
}


def _short(text: str, width: int = 24) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _label(node: str, data: Mapping[str, Any]) -> str:
    """The shown text of one node: its (masked) label, never its key."""
    kind = data.get("type", str(node).partition(":")[0])
    label = data.get("label")
    if label is None:
        raw = str(node).partition(":")[2]
        label = mask_value(raw) if kind in PERSONAL_NODE_TYPES else raw
    text = str(label) if kind in PERSONAL_NODE_TYPES else _short(str(label))
    if kind == "staff" and data.get("role"):
        text += f"\n{data['role']}"
    if "dossier_count" in data:
        text += f"\n{_count(data['dossier_count'], 'dossier')}, "
        text += _count(data.get("owner_count", 0), "owner")
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def evidence_labels(
    graph: nx.MultiDiGraph, which: Literal["key", "all", "none"] = "key"
) -> dict[str, str]:
    """The text to show next to each node of an evidence subgraph.

    Parameters
    ----------
    graph
        From :func:`features.evidence_subgraph` (or any graph whose nodes carry
        ``type`` and ``label``).
    which
        ``"key"``: the focus dossier, its owner and account holder, and every
        node that is neither a dossier nor a person (the other dossiers and
        people are many and say little one by one); ``"all"``: every node;
        ``"none"``: nothing.

    Returns
    -------
    dict
        Node key -> text. Personal nodes show their masked label; the owner
        and holder are named as such; shared entities add how many dossiers
        and owners went through them.
    """
    if which == "none":
        return {}
    focus, owner, holder = (graph.graph.get(k) for k in ("focus", "owner", "holder"))
    out = {}
    for node, data in graph.nodes(data=True):
        kind = data.get("type")
        roles = [r for r, key in (("owner", owner), ("holder", holder)) if node == key]
        if which == "key" and kind in ("dossier", "person") and node != focus and not roles:
            continue
        text = _label(node, data)
        if node == focus:
            text = f"THIS DOSSIER\n{text}"
        if roles:
            text = f"{' = '.join(roles)}\n{text}"
        out[node] = text
    return out


#: the focus dossier's neighbours go round it in this order (clockwise from the top left)
_RING_ORDER = ("person", "business", "mandate", "account", "device", "ip", "phone", "payment",
               "staff", "unit")  # fmt: skip


def _skeleton(graph: nx.MultiDiGraph) -> nx.Graph:
    """The undirected simple graph the layout runs on, every edge of weight 1.

    A mandate is an edge between grantor and grantee *and* a node of its own,
    which has no edge unless a dossier claims it; the skeleton ties that node
    to the two people its mandate links, so it is drawn beside them.
    """
    simple = nx.Graph()
    simple.add_nodes_from(graph)
    simple.add_edges_from(((u, v) for u, v in graph.edges() if u != v), weight=1.0)
    parties: dict[str, list[str]] = {}
    for u, v, data in graph.edges(data=True):
        if data.get("type") == "mandate" and data.get("authorization_id") is not None:
            parties.setdefault(str(data["authorization_id"]), []).extend((u, v))
    for node, data in graph.nodes(data=True):
        if data.get("type") == "mandate":
            simple.add_edges_from(((node, p) for p in parties.get(str(data.get("label")), ())),
                                  weight=1.0)  # fmt: skip
    return simple


def _layout(graph: nx.MultiDiGraph, seed: int) -> dict[str, Any]:
    """Focus dossier at the centre, its own entities on a ring, the rest placed by springs.

    Pinning the direct neighbours apart keeps the shared entities (account,
    device, IP...) from piling up in the middle, and the other dossiers then
    gather around the entity they share with the focus.
    """
    simple = _skeleton(graph)
    focus = graph.graph.get("focus")
    n = max(len(simple), 1)
    if focus not in simple:
        return dict(nx.spring_layout(simple, k=1.8 / n**0.5, seed=seed, iterations=200))
    for part in list(nx.connected_components(simple)):
        if focus not in part:  # tied loosely to the focus, so springs do not push it off the page
            simple.add_edge(focus, min(part, key=str), weight=0.2)
    rank = {t: i for i, t in enumerate(_RING_ORDER)}
    ring = sorted(
        simple.neighbors(focus),
        key=lambda v: (rank.get(graph.nodes[v].get("type"), len(rank)), str(v)),
    )
    pos = {focus: np.zeros(2)}
    for i, node in enumerate(ring):
        angle = np.pi * 0.75 - 2 * np.pi * i / max(len(ring), 1)
        pos[node] = np.array([np.cos(angle), np.sin(angle)])
    return dict(
        nx.spring_layout(
            simple, pos=pos, fixed=list(pos), k=0.9 / n**0.5 + 0.1, seed=seed, iterations=300
        )
    )


def draw_evidence(
    graph: nx.MultiDiGraph,
    ax: Axes | None = None,
    *,
    labels: Literal["key", "all", "none"] = "key",
    legend: bool = True,
    seed: int = 0,
) -> Axes:
    """Draw an evidence subgraph: nodes coloured by type, edges styled by meaning.

    Parameters
    ----------
    graph
        From :func:`features.evidence_subgraph`; ``graph.graph["focus"]``,
        ``["owner"]`` and ``["holder"]`` are highlighted when present. Edges
        marked ``suspicious`` (:func:`features.mark`) are drawn red and thick.
    ax
        Where to draw; a new figure of 11 x 8 inches when None.
    labels
        Which nodes get a text (:func:`evidence_labels`).
    legend
        Add a legend of the node types present and of the edge styles.
    seed
        Seed of the layout, so the same graph is drawn the same way twice.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Notes
    -----
    Spring layout: fine up to a few hundred nodes. For a readable picture pass
    a subgraph built with a small ``max_related`` (8 or so); the shared
    entities still show the full counts.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if ax is None:
        _, ax = plt.subplots(figsize=(11, 8))
    pos = _layout(graph, seed)
    focus, owner, holder = (graph.graph.get(k) for k in ("focus", "owner", "holder"))
    # edges: one line per linked pair and style (parallel edges of a multigraph drawn once)
    drawn: dict[tuple[str, str], list[tuple[str, str]]] = {}
    style_of = {t: (colour, line) for _, types, colour, line in EDGE_STYLES for t in types}
    for u, v, data in graph.edges(data=True):
        colour, line = style_of.get(data.get("type"), ("#cccccc", "solid"))
        if data.get("suspicious"):
            colour, line = _SUSPICIOUS, "solid"
        drawn.setdefault((colour, line), []).append((u, v))
    for (colour, line), edges in drawn.items():
        nx.draw_networkx_edges(
            graph,
            pos,
            edgelist=edges,
            ax=ax,
            edge_color=colour,
            style=line,
            width=2.5 if colour == _SUSPICIOUS else 1.0,
            alpha=0.8,
            arrows=True,
            arrowsize=8,
            node_size=200,
        )
    # nodes: one collection per type, so the legend and the colours agree by construction
    types = [
        t for t in (*NODE_TYPES, None) if any(d.get("type") == t for _, d in graph.nodes(data=True))
    ]
    for kind in types:
        nodes = [n for n, d in graph.nodes(data=True) if d.get("type") == kind]
        size = _SIZE.get(kind or "", 200)
        edge = ["black" if n in (focus, owner, holder) else "white" for n in nodes]
        nx.draw_networkx_nodes(
            graph,
            pos,
            nodelist=nodes,
            label=kind or "other",
            ax=ax,
            node_color=NODE_COLOURS.get(kind or "", _UNKNOWN_COLOUR),
            node_size=[700 if n == focus else size for n in nodes],
            edgecolors=edge,
            linewidths=[2.5 if c == "black" else 0.8 for c in edge],
        )
    text = evidence_labels(graph, labels)
    for node, label in text.items():
        x, y = pos[node]
        ax.annotate(
            label,
            (x, y),
            xytext=(0, 11),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7.5,
            fontweight="bold" if node == focus else "normal",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )
    if legend:
        handles = [
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                ms=8,
                mfc=NODE_COLOURS.get(t or "", _UNKNOWN_COLOUR),
                mec="white",
                label=t or "other",
            )
            for t in types
        ]
        shown = {data.get("type") for *_, data in graph.edges(data=True)}
        handles += [
            Line2D([], [], color=colour, ls=line, lw=1.5, label=name)
            for name, kinds, colour, line in EDGE_STYLES
            if shown & set(kinds)
        ]
        if any(d.get("suspicious") for *_, d in graph.edges(data=True)):
            handles.append(Line2D([], [], color=_SUSPICIOUS, lw=2.5, label="suspicious"))
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                ms=9,
                mfc="white",
                mec="black",
                mew=2,
                label="focus, owner, holder",
            )
        )
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
        )
    ax.set_axis_off()
    ax.margins(0.08)
    return ax
