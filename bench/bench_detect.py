"""Benchmark: `detector train` and `detector score` from 100k to 1M dossiers.

Targets (issue #3) on the 2-core machine, 1M dossiers: train <= 5 min,
score <= 2 min, peak memory <= 8 GB. Each step runs as the real CLI in its own
process; peak memory is the child's maximum resident set size. Writes
``bench/results/detect.json``.

    .venv/bin/python bench/bench_detect.py [--sizes 100000 300000 1000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _results import write_results

TARGETS = {"train_s": 300.0, "score_s": 120.0, "peak_gb": 8.0}


def one_size(n: int, seed: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-detect-"))
    cli = [sys.executable, "-m", "detector.cli"]
    try:
        subprocess.run(
            [*cli, "simulate", str(work / "p"), "--dossiers", str(n), "--seed", str(seed)],
            check=True,
            capture_output=True,
        )
        data, labels = str(work / "p" / "data"), str(work / "p" / "labels.csv")
        # each measured step in a fresh interpreter so ru_maxrss is that step's own peak
        train_s, train_gb = _isolated(
            [*cli, "train", data, "--labels", labels, "--out", str(work / "m")]
        )
        score_s, score_gb = _isolated(
            [
                *cli,
                "score",
                data,
                "--model",
                str(work / "m"),
                "--out",
                str(work / "s.csv"),
                "--at",
                "review",
            ]
        )
        sub_s, sub_gb = _isolated(
            [
                *cli,
                "score",
                data,
                "--model",
                str(work / "m"),
                "--out",
                str(work / "s2.csv"),
                "--at",
                "submission",
            ]
        )
        return {
            "dossiers": n,
            "train_s": train_s,
            "train_peak_gb": train_gb,
            "score_review_s": score_s,
            "score_review_peak_gb": score_gb,
            "score_submission_s": sub_s,
            "score_submission_peak_gb": sub_gb,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _isolated(args: list[str]) -> tuple[float, float]:
    """Run through a tiny wrapper process so the peak RSS is the step's alone."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t0 = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(json.dumps([time.perf_counter() - t0,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    wall, peak = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, peak


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        rows.append(one_size(n, args.seed))
        r = rows[-1]
        print(
            f"{n:>10,} dossiers: train {r['train_s']:6.1f}s ({r['train_peak_gb']:.2f} GB)  "
            f"score review {r['score_review_s']:6.1f}s ({r['score_review_peak_gb']:.2f} GB)  "
            f"score submission {r['score_submission_s']:6.1f}s ({r['score_submission_peak_gb']:.2f} GB)",
            flush=True,
        )
    big = [r for r in rows if r["dossiers"] >= 1_000_000]
    verdict = "not measured at 1M"
    if big:
        b = big[0]
        ok = (
            b["train_s"] <= TARGETS["train_s"]
            and max(b["score_review_s"], b["score_submission_s"]) <= TARGETS["score_s"]
            and max(b["train_peak_gb"], b["score_review_peak_gb"], b["score_submission_peak_gb"])
            <= TARGETS["peak_gb"]
        )
        verdict = "met" if ok else "MISSED"
    print(f"targets at 1M (train <= 300 s, score <= 120 s, peak <= 8 GB): {verdict}")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        scale = b["dossiers"] / a["dossiers"]
        print(
            f"growth x{scale:.0f} dossiers: train x{b['train_s'] / a['train_s']:.1f}, "
            f"score x{b['score_review_s'] / a['score_review_s']:.1f}"
        )
    write_results("detect", targets=TARGETS, verdict=verdict, runs=rows)
    return 0 if verdict != "MISSED" else 1


if __name__ == "__main__":
    sys.exit(main())
