"""Benchmark: building the entity index and drawing one dossier's evidence subgraph.

Targets (graph issue): index build for 1M dossiers < 60 s; ``evidence_subgraph``
median < 20 ms on a 1M-dossier index. Simulates a province (or reads ``--data``),
reads it with ``read_dataset``, builds the :class:`EntityIndex`, then times
``evidence_subgraph`` (at review and at submission) and ``to_json`` over random
dossiers. Writes ``bench/results/graph.json`` and prints a summary.

    .venv/bin/python bench/bench_graph.py --dossiers 200000
    .venv/bin/python bench/bench_graph.py --dossiers 1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from features import mask_value, read_dataset
from features.graph import EntityIndex, evidence_subgraph, to_json

TARGET_BUILD_S_1M = 60.0
TARGET_MEDIAN_MS = 20.0


def rss_gb() -> float:
    """Current resident memory of this process (peak where /proc is not available)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def province_folder(n: int, seed: int) -> tuple[Path, float]:
    """Simulate ``n`` dossiers into a temporary folder (Parquet); returns it and the time."""
    from detector.simulate import SimConfig, simulate, write_province

    out = Path(tempfile.mkdtemp(prefix="bench-graph-"))
    t0 = time.perf_counter()
    province = simulate(SimConfig(dossiers=n, seed=seed))
    data = write_province(province, out, fmt="parquet")
    del province
    gc.collect()
    return data, time.perf_counter() - t0


def traced_build(ds: object) -> tuple[float, float]:
    """Memory the index holds once built, and the peak while building (GB, tracemalloc).

    A second, traced build: RSS deltas are blurred by allocator pools, while
    tracemalloc sees exactly the NumPy buffers and Python objects the index keeps.
    """
    gc.collect()
    tracemalloc.start()
    ix = EntityIndex.from_dataset(ds)  # type: ignore[arg-type]
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del ix
    return held / 1e9, peak / 1e9


def busiest_dossiers(ix: EntityIndex, per_kind: int = 10) -> list[str]:
    """Dossiers on the most used accounts, devices, phones, tokens and IPs (the worst cases)."""
    out = []
    for kind in ("account", "device", "phone", "payment", "ip"):
        groups = ix.by[kind]
        for key in np.argsort(np.diff(groups.starts))[::-1][:per_kind]:
            out.append(str(ix.values["dossier"][groups.rows(int(key))[0]]))
    return out


def timings(ix: EntityIndex, ids: list[str], **kw: object) -> dict[str, float]:
    """Median and p95 latency (ms) of evidence_subgraph over ``ids``, and median size."""
    ms, nodes = [], []
    for dossier_id in ids:
        t0 = time.perf_counter()
        g = evidence_subgraph(ix, dossier_id, **kw)  # type: ignore[arg-type]
        ms.append((time.perf_counter() - t0) * 1000)
        nodes.append(g.number_of_nodes())
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "max_ms": round(max(ms), 2),
        "median_nodes": statistics.median(nodes),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dossiers", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--data", type=Path, help="read this data folder instead of simulating")
    args = ap.parse_args()

    simulated_s = None
    folder = args.data
    if folder is None:
        folder, simulated_s = province_folder(args.dossiers, args.seed)
    try:
        t0 = time.perf_counter()
        ds = read_dataset(folder)
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ix = EntityIndex.from_dataset(ds)
        build_s = time.perf_counter() - t0
        held_gb, build_peak_gb = traced_build(ds)
    finally:
        if args.data is None:
            shutil.rmtree(folder.parent, ignore_errors=True)
    n = len(ds.tables["dossiers"])
    rng = np.random.default_rng(args.seed)
    ids = [str(x) for x in rng.choice(ds.tables["dossiers"]["dossier_id"].to_numpy(), args.samples)]
    busiest = busiest_dossiers(ix)
    evidence_subgraph(ix, ids[0])  # warm-up (imports, caches)
    review = timings(ix, ids)
    submission = timings(ix, ids, at="submission")
    heavy = timings(ix, busiest)
    t0 = time.perf_counter()
    for dossier_id in ids[:50]:
        to_json(evidence_subgraph(ix, dossier_id), mask_value)
    json_ms = (time.perf_counter() - t0) * 1000 / min(50, len(ids))

    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dossiers": n,
        "simulate_and_write_s": None if simulated_s is None else round(simulated_s, 1),
        "read_dataset_s": round(read_s, 1),
        "index_build_s": round(build_s, 2),
        "index_held_gb": round(held_gb, 3),
        "index_build_peak_gb": round(build_peak_gb, 3),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        "samples": len(ids),
        "evidence_at_review": review,
        "evidence_at_submission": submission,
        "evidence_busiest_entities": heavy,
        "evidence_plus_to_json_ms": round(json_ms, 2),
    }
    print(json.dumps(result, indent=2))
    verdicts = [review["median_ms"] <= TARGET_MEDIAN_MS]
    if n >= 1_000_000:
        verdicts.append(build_s <= TARGET_BUILD_S_1M)
    verdict = "met" if all(verdicts) else "MISSED"
    print(
        f"targets: median <= {TARGET_MEDIAN_MS:.0f} ms"
        + (f", 1M build <= {TARGET_BUILD_S_1M:.0f} s" if n >= 1_000_000 else "")
        + f": {verdict}"
    )
    path = Path(__file__).parent / "results" / "graph.json"
    path.write_text(json.dumps({**result, "verdict": verdict}, indent=2) + "\n")
    print(f"written: {path}")
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    sys.exit(main())
