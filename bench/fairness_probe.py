"""Probe: which legitimate dossiers of owners aged 70+ (and children filed by a parent) are flagged, and why.

For each simulator setting of :mod:`day_one` (small provinces, cached) and each
label condition, runs ``detector evaluate``'s own code and prints the
detector's AP, recall, the 70+ and child-by-parent ratios and counts, then one
line per flagged legitimate 70+ / child dossier: its scenario (the
simulator's finer truth), risk, the detector's reasons and a few graph
features. ``--out`` writes the numbers as JSON, to compare two versions of the
code on the same provinces.

    PYTHONPATH=. nice -n 10 .venv/bin/python bench/fairness_probe.py \\
        --dossiers 30000 --settings D1 H1 H2 --out /tmp/fair2/before.json
    .venv/bin/python bench/fairness_probe.py --compare before.json after.json   # markdown table
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from day_one import _get, _province, settings

from detector import _baselines as bl
from detector.batch import labels_for
from detector.evaluate import CONDITIONS, evaluate, read_scenarios
from features import read_dataset
from features.compute import compute_features

#: features printed beside each flagged dossier (those present are shown)
SHOWN = (
    "holder_relation",
    "owner_age",
    "holder_age",
    "declared_relation",
    "attachment_kind",
    "ip_in_office_network",
    "acct_owners",
    "acct_unrelated_owners",
    "acct_new_unlinked_owners_365d",
    "dev_accounts",
    "ip_accounts",
    "ip_new_unlinked_owners_30d",
    "phone_owners",
    "acct_future_unlinked_owners",
)

NUMBERS = (
    ("average_precision", "AP"),
    ("recall", "recall"),
    ("legitimate_proxies_flag_rate", "legit proxies"),
    ("fairness.owner_70_plus.ratio", "70+ ratio"),
    ("fairness.owner_70_plus.flagged", "70+ flagged"),
    ("fairness.owner_70_plus.dossiers", "70+ n"),
    ("fairness.child_by_parent.ratio", "child ratio"),
    ("fairness.child_by_parent.flagged", "child flagged"),
)


def probe(
    name: str, dossiers: int, conditions: list[str], cache: Path, seed_shift: int = 0
) -> list[dict[str, Any]]:
    _, cfg = settings(dossiers)[name]
    if seed_shift:
        cfg = replace(cfg, seed=cfg.seed + seed_shift)
        name = f"{name}+{seed_shift}"
    folder = _province(name, cfg, cache)
    ds = read_dataset(folder / "data")
    y = labels_for(ds, folder / "labels.csv")
    scen = read_scenarios(folder / "labels.csv")
    feats = compute_features(ds.tables, ds.present, "review")
    fx = feats.frame
    rows = []
    for condition in conditions:
        started = time.perf_counter()
        res = evaluate(ds, y, condition=condition, scenarios=scen, features=feats)
        det = res["metrics"]["methods"]["detector"]
        row = {"setting": name, "condition": condition}
        row.update({label: _get(det, key) for key, label in NUMBERS})
        row["seconds"] = round(time.perf_counter() - started)
        rows.append(row)
        print(" ".join(f"{k}={_fmt(v)}" for k, v in row.items()), flush=True)
        _list_flagged(ds, res["scores"], fx)
    return rows


def _list_flagged(ds: Any, scores: pd.DataFrame, fx: pd.DataFrame) -> None:
    d = ds.tables["dossiers"]
    rows = d["dossier_id"].isin(scores.index).to_numpy()
    at = np.flatnonzero(rows)
    held = scores.reindex(d["dossier_id"].iloc[at])
    groups = bl.fairness_groups(ds, rows, held["proxy_type"].to_numpy(dtype=object))
    for group in ("owner_70_plus", "child_by_parent"):
        for i in np.flatnonzero(groups[group] & held["flagged_detector"].to_numpy(bool)):
            s = held.iloc[i]
            f = fx.iloc[at[i]]
            shown = " ".join(f"{c}={_fmt(f[c])}" for c in SHOWN if c in fx.columns)
            print(
                f"    {group} {s.name} scenario={s.get('scenario')} truth={s['proxy_type']} "
                f"risk={s['score_detector']:.3f} channel={s['channel']}\n      {shown}\n"
                f"      reasons: {str(s['reasons_detector'])[:500]}",
                flush=True,
            )


def compare(before: Path, after: Path) -> str:
    """A markdown table of two ``--out`` files side by side (before -> after), per setting and condition."""
    cols = ("AP", "recall", "70+ ratio", "70+ flagged", "child ratio", "child flagged")
    a = {(r["setting"], r["condition"]): r for r in json.loads(before.read_text())}
    b = {(r["setting"], r["condition"]): r for r in json.loads(after.read_text())}
    lines = [
        "| setting | condition | 70+ n | " + " | ".join(cols) + " |",
        "|---|---|---:|" + "---:|" * len(cols),
    ]
    for key in [k for k in a if k in b]:
        cells = [f"{_short(a[key][c])} → {_short(b[key][c])}" for c in cols]
        lines.append(f"| {key[0]} | {key[1]} | {b[key]['70+ n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.2f}" if v > 1.0 or v == 0 else f"{v:.4f}"
    return str(v)


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dossiers", type=int, default=30_000)
    ap.add_argument("--settings", nargs="+", default=["D1", "H1", "H2"])
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "detector-fairness-probe"
    )
    ap.add_argument(
        "--seed-shift",
        type=int,
        default=0,
        help="add this to each setting's seed (other provinces)",
    )
    ap.add_argument("--out", type=Path, help="write the numbers here (JSON)")
    ap.add_argument(
        "--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="two --out files: table"
    )
    args = ap.parse_args()
    if args.compare:
        print(compare(*args.compare))
        return
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.settings:
        rows += probe(name, args.dossiers, args.conditions, args.cache, args.seed_shift)
    frame = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(frame.round(4).to_string(index=False))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
