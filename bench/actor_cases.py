"""Benchmark: review an actor once, not a dossier at a time (issue #13, "Done when").

On the province ``make run`` builds (``detector simulate --dossiers 100000
--seed 7``, twelve months), the detector is trained with the label file and
scores every dossier at review, exactly as ``make run`` does. Then its flags
are queued two ways:

- **dossier cases**: one case per flagged dossier (the queue until now);
- **actor cases**: :func:`detector.actors.actor_cases` (officer or unit x
  month for officer proxies, else the shared account, device, phone or
  payment token with most distinct owners, else the dossier alone).

Reported:

1. **coverage**: how many cases the queue holds and how many hold misuse
   (the reviews needed to find the whole year's flagged misuse), and the
   recall that gives (the same flags, so the same recall). Target: actor
   cases at most a third as many.
2. **a team of ``--per-month`` reviews a month** over the twelve scored
   months (:func:`detector._case_capacity.review_by_month`: each month the
   backlog of flagged dossiers without a verdict is grouped, ranked with
   :func:`detector.actors.rank_cases`, the top cases reviewed; an actor
   case's verdict confirms all its misuse dossiers). Target: actor cases
   confirm at least twice as much misuse.
3. **time**: grouping the year's flags, and a million dossiers all chosen
   (the province tiled ten times with distinct identifiers).

The scores are in-sample, as in ``make run`` (the model learnt from every
label of the year). So the result is also given **held out**, under
``held_out``: :func:`detector.evaluate.evaluate` trains on the first nine
months and judges the last three (its ``capacity_in_cases``, the same as
``detector evaluate --cases-per-month``); ``--skip-holdout`` leaves it out.

Outputs ``bench/results/actor_cases.json`` and ``actor_cases.png``. The
province, the model and the scores are cached under ``--cache`` (default
``$TMPDIR/detector-bench-actors``); ``--fresh`` redoes them.

    .venv/bin/python bench/actor_cases.py           # 100k dossiers (~6 min the first time, 2 after)
    .venv/bin/python bench/actor_cases.py --quick   # 20k dossiers, smoke run, not written
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's packages

from _results import write_results

from detector._case_capacity import capacity_in_cases
from detector.actors import actor_cases
from detector.batch import labels_for, score_dataset, train
from detector.evaluate import evaluate
from detector.simulate import SimConfig, simulate, write_province
from features import pseudonymiser, read_dataset
from features.contract import MISUSE_TYPES

#: the bench's pseudonym key (the keys never leave the process; the service uses its secret)
HIDE = pseudonymiser(b"bench-actor-cases", digest_size=6)
COPIES = 10  # tiles of the province for the million-dossier timing


def province(cache: Path, dossiers: int, seed: int, fresh: bool) -> Path:
    """Simulate, train with the labels and score at review, as ``make run`` does (cached)."""
    folder = cache / f"province-{dossiers}-{seed}"
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if not (folder / "labels.csv").exists():
        print(f"simulating {dossiers:,} dossiers (seed {seed})", flush=True)
        write_province(simulate(SimConfig(dossiers=dossiers, seed=seed)), folder)
    if not (folder / "model").exists():
        print("training with the labels (detector train --labels)", flush=True)
        train(folder / "data", folder / "labels.csv", folder / "model", random_state=0)
    if not (folder / "scores.parquet").exists():
        print("scoring at review (detector score --details)", flush=True)
        ds = read_dataset(folder / "data")
        score_dataset(ds, folder / "model", "review").to_parquet(folder / "scores.parquet")
    return folder


def tiled(dossiers: pd.DataFrame, scored: pd.DataFrame, copies: int) -> tuple:
    """The province ``copies`` times over, every identifier made distinct per copy."""
    keys = ("dossier_id", "account_id", "device_id", "contact_phone", "payer_token")
    keys = (*keys, "owner_id", "received_by")
    ds, ss = [], []
    for i in range(copies):
        d = dossiers.copy()
        for c in keys:
            if c in d:
                d[c] = d[c].astype(object) + f"-{i}"
        ds.append(d)
        ss.append(scored.assign(dossier_id=scored["dossier_id"].astype(object) + f"-{i}"))
    return pd.concat(ds, ignore_index=True), pd.concat(ss, ignore_index=True)


def held_out(folder: Path, per_month: int) -> dict[str, Any]:
    """``detector evaluate``'s comparison: trained on nine months, judged on the last three."""
    ds = read_dataset(folder / "data")
    m = evaluate(ds, labels_for(ds, folder / "labels.csv"), cases_per_month=per_month)["metrics"]
    cap = m["capacity_in_cases"]
    for kind in ("dossier_cases", "actor_cases"):
        cap[kind].pop("months")
    return {"holdout_months": m["split"]["holdout_months"], **cap}


def run(folder: Path, per_month: int, million: bool) -> dict[str, Any]:
    ds = read_dataset(folder / "data")
    d = ds.tables["dossiers"]
    scored = pd.read_parquet(folder / "scores.parquet")
    truth = (
        pd.read_csv(folder / "labels.csv", dtype=str)
        .drop_duplicates("dossier_id")
        .set_index("dossier_id")["proxy_type"]
    )
    started = time.perf_counter()
    cases = actor_cases(scored, d, HIDE)
    group_s = time.perf_counter() - started
    started = time.perf_counter()
    cap = capacity_in_cases(scored, d, truth, cases_per_month=per_month, pseudonymise=HIDE)
    review_s = time.perf_counter() - started
    cases["misuse"] = truth.reindex(cases["dossier_id"]).isin(MISUSE_TYPES).to_numpy()
    one = cases.drop_duplicates("case_key")
    by_kind = {
        k: {
            "cases": int((one["actor_kind"] == k).sum()),
            "dossiers": int((cases["actor_kind"] == k).sum()),
            "misuse_dossiers": int(cases.loc[cases["actor_kind"] == k, "misuse"].sum()),
        }
        for k in one["actor_kind"].value_counts().index
    }
    largest = one.head(10)[["actor_kind", "n_dossiers", "n_owners", "main_type"]]
    out: dict[str, Any] = {
        "dossiers": len(d),
        "flagged": int(scored["flagged"].sum()),
        "misuse": int(truth.reindex(scored["dossier_id"]).isin(MISUSE_TYPES).sum()),
        **cap,
        "actor_cases_by_kind": by_kind,
        "largest_actor_cases": largest.to_dict("records"),
        "seconds": {"group_year_flags": round(group_s, 2), "monthly_reviews": round(review_s, 2)},
    }
    if million:
        D, S = tiled(d, scored, COPIES)
        started = time.perf_counter()
        big = actor_cases(S, D, HIDE)
        out["seconds"][f"group_{len(S):,}_flagged"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        every = actor_cases(S, D, HIDE, chosen=np.ones(len(S), bool))
        out["seconds"][f"group_{len(S):,}_all_chosen"] = round(time.perf_counter() - started, 2)
        out["tiled"] = {
            "dossiers": len(S),
            "flagged": int(S["flagged"].sum()),
            "cases_flagged": int(big["case_key"].nunique()),
            "cases_all_chosen": int(every["case_key"].nunique()),
        }
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"dossier_cases": "#999999", "actor_cases": "#2a7ab9"}
    names = {"dossier_cases": "dossier cases", "actor_cases": "actor cases"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    cov = result["coverage"]
    kinds = list(names)
    values = [cov[k]["cases_with_misuse"] for k in kinds]
    left.bar([names[k] for k in kinds], values, color=[colours[k] for k in kinds])
    for x, v in enumerate(values):
        left.text(x, v, f"{v:,}", ha="center", va="bottom")
    left.set_ylabel("cases to review")
    left.set_title(
        f"Cases holding the year's flagged misuse\n(recall {cov['actor_cases']['recall']:.1%} both)"
    )
    for k in kinds:
        months = result[k]["months"]
        found = np.cumsum([m["misuse_confirmed"] for m in months])
        right.plot([m["month"] for m in months], found, "o-", color=colours[k], label=names[k])
    right.set_ylabel("misuse dossiers confirmed (cumulative)")
    right.set_title(f"A team reviewing {result['cases_per_month']} cases a month")
    right.tick_params(axis="x", rotation=45)
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"written: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dossiers", type=int, default=100_000, help="as make run")
    ap.add_argument("--seed", type=int, default=7, help="as make run")
    ap.add_argument("--per-month", type=int, default=60, help="cases the team reviews a month")
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "detector-bench-actors"
    )
    ap.add_argument("--fresh", action="store_true", help="simulate, train and score again")
    ap.add_argument("--skip-holdout", action="store_true", help="no held-out comparison")
    ap.add_argument("--quick", action="store_true", help="20k dossiers; nothing written")
    args = ap.parse_args()
    if args.quick:
        args.dossiers = 20_000
    args.cache.mkdir(parents=True, exist_ok=True)
    folder = province(args.cache, args.dossiers, args.seed, args.fresh)
    result = run(folder, args.per_month, million=not args.quick)
    cov, ratio = result["coverage"], result["actor_vs_dossier"]
    print(
        f"cases holding flagged misuse: {cov['dossier_cases']['cases_with_misuse']:,} dossier cases, "
        f"{cov['actor_cases']['cases_with_misuse']:,} actor cases "
        f"(ratio {ratio['cases_to_cover_misuse_ratio']:.3f}, target <= 0.333); "
        f"recall {cov['actor_cases']['recall']:.3f} both"
    )
    print(
        f"{args.per_month} reviews a month: misuse confirmed "
        f"{result['dossier_cases']['misuse_confirmed']:,} with dossier cases, "
        f"{result['actor_cases']['misuse_confirmed']:,} with actor cases "
        f"(ratio {ratio['misuse_confirmed_ratio']:.2f}, target >= 2)"
    )
    print(f"seconds: {result['seconds']}")
    if not args.skip_holdout:
        print("held out: training on nine months, judging the last three", flush=True)
        h = result["held_out"] = held_out(folder, args.per_month)
        print(
            f"held out {', '.join(h['holdout_months'])}: cases holding flagged misuse "
            f"{h['coverage']['dossier_cases']['cases_with_misuse']:,} dossier vs "
            f"{h['coverage']['actor_cases']['cases_with_misuse']:,} actor; misuse confirmed "
            f"{h['dossier_cases']['misuse_confirmed']:,} vs {h['actor_cases']['misuse_confirmed']:,}"
        )
    if args.quick:
        return
    write_results(
        "actor_cases",
        province={"dossiers": args.dossiers, "seed": args.seed, "months": 12},
        per_month=args.per_month,
        targets={
            "cases_to_cover_misuse_ratio": {
                "bound": "<= 1/3",
                "met": ratio["cases_to_cover_misuse_ratio"] <= 1 / 3,
            },
            "misuse_confirmed_ratio": {
                "bound": ">= 2",
                "met": ratio["misuse_confirmed_ratio"] >= 2,
            },
        },
        **result,
    )
    plot(result, Path(__file__).parent / "results" / "actor_cases.png")


if __name__ == "__main__":
    main()
