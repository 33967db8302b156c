"""Experiment: a review queue that teaches (issue #10, point 3).

A province starts with **no labels**. Each month for ``--months`` months the
detector scores that month's dossiers, a simulated team reviews a fixed number
of them (``--per-month``) and records the truth as verdicts, and the detector
is retrained on every verdict so far (``detector train``'s own policy:
starter, then combined). After the last month, each detector is judged on the
months that follow, which nobody reviewed (average precision, precision at
the team's capacity, recall at flag).

Three ways to spend the reviews:

- ``top``: the highest risks first (what a queue without exploration does);
- ``explore``: 85 % from the top, 15 % drawn by the exploration policy
  (:func:`detector.explore.explore`, the one ``detector score --to-db`` uses:
  uncertainty sampling and random draws from just below the threshold); each drawn verdict carries the inverse of its chance of
  being drawn as its weight and may calibrate the risk, while the top's
  verdicts train the trees only;
- ``random``: dossiers drawn at random among the month's online ones.

Outputs ``bench/results/queue_teaches.json`` and ``queue_teaches.png``.

    .venv/bin/python bench/queue_teaches.py             # 60k dossiers, 3 review months (~25 min)
    .venv/bin/python bench/queue_teaches.py --quick     # 15k, smoke run, not written
    .venv/bin/python bench/queue_teaches.py --setting H2 --seeds 1 2 3   # held-out H2, three provinces
    .venv/bin/python bench/queue_teaches.py --dossiers 30000 --starter-without misuse_borrowed misuse_takeover --seeds 1 2 3

``--starter-without`` builds every starter model as if the simulator did not
know those misuse scenarios (their share is given to self-filing in every
simulated province), while the province reviewed has them: misuse that a
real province holds and no simulation foresaw, which is what exploration is
for. Nothing else changes; the results go to ``queue_teaches_unknown.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).parent))

import day_one
from _results import write_results

from detector.explore import EXPLORE_SHARE, explore
from detector.simulate import SimConfig, simulate, write_province
from detector.training import fit_detectors
from features import read_dataset
from features.compute import compute_features
from features.contract import LOCAL_TZ, MISUSE_TYPES

POLICIES = ("top", "explore", "random")


def review(
    policy: str,
    risk: np.ndarray,
    online: np.ndarray,
    threshold: float,
    k: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows reviewed this month, their weights, and which may calibrate."""
    if policy == "random":
        pool = np.flatnonzero(online)
        idx = rng.choice(pool, min(k, len(pool)), replace=False)
        return idx, np.ones(len(idx)), np.ones(len(idx), bool)
    n_top = k if policy == "top" else k - round(EXPLORE_SHARE * k)
    top = np.argsort(-risk, kind="stable")[:n_top]
    if policy == "top":
        return top, np.ones(len(top)), np.zeros(len(top), bool)
    taken = np.zeros(len(risk), bool)
    taken[top] = True
    drawn, chance = explore(risk, threshold, k - n_top, taken, rng)
    idx = np.r_[top, drawn]
    weight = np.r_[np.ones(len(top)), 1.0 / chance]
    return idx, weight, np.r_[np.zeros(len(top), bool), np.ones(len(drawn), bool)]


def starter_without(scenarios: list[str]) -> None:
    """From now on, every starter model's simulated provinces lack ``scenarios`` (module docstring)."""
    from detector import profile

    unknown = [s for s in scenarios if s not in profile.MISUSE_SCENARIOS]
    if unknown:
        raise SystemExit(f"--starter-without: not a misuse scenario: {unknown}; "
                         f"expected some of {list(profile.MISUSE_SCENARIOS)}")  # fmt: skip
    drawn = profile._shares

    def shares(measured: Any, rng: np.random.Generator) -> dict[str, float]:
        out = drawn(measured, rng)
        for name in scenarios:
            out["self_online"] += out[name]
            out[name] = 0.0
        return out

    profile._shares = shares


def province(setting: str, dossiers: int, seed: int) -> SimConfig:
    """The simulated province: ``default`` or a setting of ``day_one`` (``H2``...), with ``seed``."""
    if setting == "default":
        return SimConfig(dossiers=dossiers, months=12, seed=seed)
    return replace(day_one.settings(dossiers)[setting][1], seed=seed)


def run(
    dossiers: int,
    months: int,
    per_month: int,
    cache: Path,
    seed: int,
    setting: str = "default",
    unknown: tuple[str, ...] = (),
) -> dict[str, Any]:
    cfg = province(setting, dossiers, seed)
    folder = cache / f"queue-{setting}-{dossiers}-{seed}"
    if not (folder / "labels.csv").exists():
        write_province(simulate(cfg), folder, fmt="parquet")
    ds = read_dataset(folder / "data")
    truth = (
        pd.read_csv(folder / "labels.csv", dtype=str)
        .drop_duplicates("dossier_id")
        .set_index("dossier_id")["proxy_type"]
    )
    feats = compute_features(ds.tables, ds.present, "review")
    X, ids = feats.frame, feats.frame.index
    y_true = truth.reindex(ids)
    t = pd.Series(ds.tables["dossiers"]["submitted_at"].to_numpy(), index=ids)
    month = t.dt.tz_convert(LOCAL_TZ).dt.strftime("%Y-%m").to_numpy()
    all_months = sorted(set(month))
    first = len(all_months) - 3 - months  # review months, then three held-out ones
    review_months, held = all_months[first : first + months], all_months[-3:]
    hold = np.isin(month, held)
    target = y_true[hold].isin(MISUSE_TYPES).to_numpy()
    scenario = pd.read_csv(folder / "scenarios.csv", dtype=str).drop_duplicates("dossier_id")
    scenario = scenario.set_index("dossier_id")["scenario"].reindex(ids)
    novel = scenario[hold].isin(unknown).to_numpy()  # misuse no starter simulation had
    online = (X["channel"] == "online").to_numpy()
    out: dict[str, Any] = {"review_months": review_months, "held_out_months": held}
    for policy in POLICIES:
        rng = np.random.default_rng(seed)
        labels = pd.Series(np.nan, index=ids, dtype=object)
        weight = pd.Series(1.0, index=ids)
        calibrate = pd.Series(True, index=ids)
        history = []
        for m in [*review_months, None]:
            started = time.perf_counter()
            dets, info = fit_detectors(
                ds,
                {"review": feats},
                labels,
                t,
                calibrate=calibrate,
                sample_weight=weight,
                random_state=seed,
            )
            det = dets["review"]
            if m is None:  # after the last month: judge on the held-out months
                s = det.score_frame(X[hold])
                flagged = s["flagged"].to_numpy()
                k = max(1, round(0.02 * hold.sum()))
                top = np.argsort(-s["risk_score"].to_numpy(), kind="stable")[:k]
                out[policy] = {
                    "average_precision": float(average_precision_score(target, s["risk_score"])),
                    "precision_at_capacity": float(target[top].mean()),
                    "recall_at_flag": float(flagged[target].mean()),
                    **(
                        {"unknown_recall_at_flag": float(flagged[novel].mean())}
                        if novel.any()
                        else {}
                    ),
                    "policy": info["kind"],
                    "labels": int(labels.notna().sum()),
                    "months": history,
                }
                print(f"{policy}: {out[policy]}", flush=True)
                break
            rows = np.flatnonzero(month == m)
            risk = det.score_frame(X.iloc[rows])["risk_score"].to_numpy()
            idx, w, cal = review(policy, risk, online[rows], det.threshold_, per_month, rng)
            chosen = rows[idx]
            labels.iloc[chosen] = y_true.iloc[chosen].to_numpy()
            weight.iloc[chosen] = w
            calibrate.iloc[chosen] = cal
            found = int(y_true.iloc[chosen].isin(MISUSE_TYPES).sum())
            found_unknown = int(scenario.iloc[chosen].isin(unknown).sum())
            history.append(
                {
                    "month": m,
                    "reviewed": len(chosen),
                    "misuse_found": found,
                    **({"unknown_found": found_unknown} if unknown else {}),
                    "policy": info["kind"],
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            print(f"  {policy} {m}: {found}/{len(chosen)} misuse ({info['kind']})", flush=True)
    return out


def plot(runs: list[dict[str, Any]], path: Path, unknown: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    values = np.array([[r[p]["average_precision"] for p in POLICIES] for r in runs])
    ax.bar(POLICIES, values.mean(axis=0), color=["#999999", "#2a7ab9", "#c9a227"], alpha=0.8)
    for x in range(len(POLICIES)):
        ax.scatter(np.full(len(runs), x), values[:, x], color="black", s=12, zorder=3)
        ax.text(x, values[:, x].max(), f"{values[:, x].mean():.4f}", ha="center", va="bottom")
    ax.set_ylim(values.min() - 0.01, 1.0)
    ax.set_ylabel("average precision, held-out months")
    title = f"Starting with no labels: which reviews teach the model most ({len(runs)} provinces)"
    if unknown:
        title += f"\nthe starter never saw: {', '.join(unknown)}"
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"written: {path}")


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean held-out AP per policy over the provinces, and how often exploration beat the top."""
    ap = {p: [r[p]["average_precision"] for r in runs] for p in POLICIES}
    return {
        "provinces": len(runs),
        "mean_average_precision": {p: float(np.mean(v)) for p, v in ap.items()},
        "explore_minus_top": [e - t for e, t in zip(ap["explore"], ap["top"], strict=True)],
        "explore_beats_top": int(sum(e > t for e, t in zip(ap["explore"], ap["top"], strict=True))),
        "explore_beats_random": int(
            sum(e > r for e, r in zip(ap["explore"], ap["random"], strict=True))
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dossiers", type=int, default=60_000)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--per-month", type=int, default=60)
    ap.add_argument("--seeds", type=int, nargs="+", default=[4242])
    ap.add_argument(
        "--setting",
        default="default",
        choices=["default", *day_one.settings(1)],
        help="the simulated province: default, or a setting of bench/day_one.py (H2: subtle "
        "officers and brokers, where the starter misses most)",
    )
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "detector-bench-queue"
    )
    ap.add_argument(
        "--starter-without",
        nargs="+",
        default=[],
        metavar="SCENARIO",
        help="misuse scenarios the starter's simulations lack (module docstring)",
    )
    ap.add_argument("--quick", action="store_true", help="15k dossiers; nothing written")
    args = ap.parse_args()
    if args.starter_without:
        starter_without(args.starter_without)
    if args.quick:
        args.dossiers = 15_000
    args.cache.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in args.seeds:
        result = run(
            args.dossiers, args.months, args.per_month, args.cache, seed, args.setting,
            tuple(args.starter_without),
        )  # fmt: skip
        runs.append({"seed": seed, **result})
    total = summary(runs)
    print(total, flush=True)
    if args.quick:
        return
    name = "queue_teaches" if args.setting == "default" else f"queue_teaches_{args.setting}"
    if args.starter_without:
        name += "_unknown"
    write_results(
        name,
        dossiers=args.dossiers,
        per_month=args.per_month,
        explore_share=EXPLORE_SHARE,
        setting=args.setting,
        starter_without=args.starter_without,
        summary=total,
        runs=runs,
    )
    plot(runs, Path(__file__).parent / "results" / f"{name}.png", args.starter_without)


if __name__ == "__main__":
    main()
