"""The batch and the single-dossier path, side by side, for every declaration of the registry.

:func:`features.compute.compute_features` computes each declaration's
``frame`` over a whole history; :class:`features.online.ReferenceIndex` its
``row``, one dossier at a time. :func:`columns` lines the two up per
declaration (features, event flags and keys, data gaps, the holder), so a
test can name the one that disagrees.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.compute import compute_features, event_frame
from features.defs import FLAGS, GAPS, KEYS, STATIC
from features.links import holder_links
from features.online import ReferenceIndex

#: every declaration the two paths compute, by the name a disagreement is reported under
NAMES: tuple[str, ...] = (
    *(f.name for f in STATIC),
    *(x.name for x in FLAGS),
    *(x.name for x in KEYS),
    *(f"gap:{g.code}" for g in GAPS),
    "data_gaps",  # the codes joined, in the registry's order
    "holder_id",
)


def _plain(s: pd.Series) -> list[object]:
    """Values as Python objects, every kind of missing as NaN (categories as str)."""
    return s.astype(object).where(s.notna(), np.nan).tolist()


def _text(s: pd.Series) -> list[object]:
    """Text as Python values, missing as None (how the single-dossier path gives keys)."""
    return s.astype(object).where(s.notna(), None).tolist()


def _same(a: object, b: object) -> bool:
    return a == b or (a != a and b != b)  # NaN matches NaN


def differences(what: str, ids: list[str], batch: list[object], online: list[object]) -> str:
    """'' when the two agree, else how many differ and the first three."""
    diff = [i for i, (a, b) in enumerate(zip(batch, online, strict=True)) if not _same(a, b)]
    if not diff:
        return ""
    shown = ", ".join(f"{ids[i]}: batch={batch[i]!r} online={online[i]!r}" for i in diff[:3])
    return f"{what}: {len(diff)} of {len(ids)} differ, e.g. {shown}"


def columns(
    tables: dict[str, pd.DataFrame], present: frozenset[str]
) -> tuple[list[str], dict[str, tuple[list[object], list[object]]]]:
    """The dossier IDs and, per name of :data:`NAMES`, (batch values, single-dossier values)."""
    d = tables["dossiers"]
    batch = compute_features(tables, present, "submission")
    links = holder_links(tables, present)
    w = event_frame(d, links, batch.frame.set_axis(d.index))
    index = ReferenceIndex.from_tables(tables, present)
    rows = [index.dossier(row) for row in d.to_dict("records")]
    assert all(list(r.static) == [f.name for f in STATIC] for r in rows)
    out: dict[str, tuple[list[object], list[object]]] = {}
    for f in STATIC:
        out[f.name] = (_plain(batch.frame[f.name]), [r.static[f.name] for r in rows])
    for x in FLAGS:
        out[x.name] = (w[x.name].tolist(), [r.flags[x.name] for r in rows])
    for x in KEYS:
        out[x.name] = (_text(w[x.name]), [r.keys[x.name] for r in rows])
    batch_gaps = [g.split(";") for g in batch.data_gaps]
    for g in GAPS:
        out[f"gap:{g.code}"] = (
            [g.code in b for b in batch_gaps],
            [g.code in r.gaps for r in rows],
        )
    out["data_gaps"] = (batch.data_gaps.tolist(), [";".join(r.gaps) for r in rows])
    out["holder_id"] = (_text(links["holder_id"]), [r.holder_id for r in rows])
    assert list(out) == list(NAMES)
    return d["dossier_id"].tolist(), out


def parity(tables: dict[str, pd.DataFrame], present: frozenset[str]) -> list[str]:
    """Every disagreement between the batch and the single-dossier path, one line per name."""
    ids, cols = columns(tables, present)
    found = [differences(name, ids, *cols[name]) for name in NAMES]
    return [f for f in found if f]


def without(ds: Any, absent: tuple[str, ...]) -> tuple[dict[str, pd.DataFrame], frozenset[str]]:
    """The tables as the reader gives them when ``absent`` are missing from the folder."""
    tables = {name: t.iloc[0:0] if name in absent else t for name, t in ds.tables.items()}
    return tables, ds.present - set(absent)


def unknown_keys(ds: Any) -> dict[str, pd.DataFrame]:
    """The province with the unknown cells the simulator never writes, and odd records.

    Unknown owners, holders, units and procedures; staff, mandates and legal
    representatives with an unknown person (pandas' merges match them with
    dossiers whose holder is unknown); conflicting duplicates of keyed rows
    (the first wins); self-relations; desk visits without a unit; times with
    sub-second parts (whole seconds decide "before").
    """
    rng = np.random.default_rng(5)
    t = {name: frame.copy() for name, frame in ds.tables.items()}

    def blank(name: str, column: str, share: float) -> None:
        rows = rng.random(len(t[name])) < share
        t[name].loc[rows, column] = np.nan

    blank("dossiers", "owner_id", 0.03)
    blank("dossiers", "unit_id", 0.02)
    blank("dossiers", "procedure_code", 0.02)
    blank("accounts", "holder_id", 0.03)
    blank("accounts", "account_type", 0.02)
    # one post only: with two, the batch's unstable sort would pick either (see staff_roles)
    t["staff"].loc[t["staff"].index[0], "person_id"] = np.nan
    blank("staff", "role", 0.1)
    # community team posts ended some months into the period (their members still help)
    team = t["staff"].index[t["staff"]["role"] == "community_digital_team"][:20]
    start = t["dossiers"]["submitted_at"].min().tz_convert(None).normalize()
    t["staff"].loc[team, "active_to"] = start + pd.to_timedelta(
        rng.integers(0, 200, len(team)), unit="D"
    )
    blank("authorizations", "grantee_id", 0.05)
    blank("authorizations", "grantor_id", 0.05)
    blank("businesses", "legal_rep_id", 0.1)
    blank("units", "level", 0.2)
    blank("counter_visits", "unit_id", 0.05)
    a = t["accounts"]
    t["accounts"] = pd.concat(
        [a, a.iloc[:50].assign(holder_id=a["holder_id"].iloc[50:100].to_numpy())]
    )
    r = t["relations"]
    loops = r.iloc[:30].assign(related_id=r["person_id"].iloc[:30].to_numpy())
    flipped = r.iloc[30:60].assign(relation="sibling")
    t["relations"] = pd.concat([r, loops, flipped], ignore_index=True)
    jitter = pd.to_timedelta(rng.integers(0, 10**9, len(t["counter_visits"])), unit="ns")
    t["counter_visits"]["visited_at"] = t["counter_visits"]["visited_at"] + jitter
    jitter = pd.to_timedelta(rng.integers(0, 10**9, len(t["accounts"])), unit="ns")
    t["accounts"]["created_at"] = t["accounts"]["created_at"] + jitter
    d = t["dossiers"]
    d["submitted_at"] = d["submitted_at"] + pd.to_timedelta(
        rng.integers(0, 10**9, len(d)), unit="ns"
    )
    # some desk visits in the very second of the filing, half a second before or after
    desk = d[d["owner_id"].notna() & d["unit_id"].notna()].iloc[:300]
    v = pd.DataFrame(
        {
            "visit_id": [f"VX{i}" for i in range(len(desk))],
            "unit_id": desk["unit_id"].to_numpy(),
            "person_id": desk["owner_id"].to_numpy(),
            "visited_at": desk["submitted_at"].dt.floor("s")
            + pd.to_timedelta(rng.integers(0, 10**9, len(desk)), unit="ns"),
        }
    ).astype(t["counter_visits"].dtypes.to_dict())
    t["counter_visits"] = pd.concat([t["counter_visits"], v], ignore_index=True)
    return t
