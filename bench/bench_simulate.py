"""Benchmark: how fast the simulator builds and writes a province.

Target (issue #2): 1 million dossiers in at most 2 minutes on the 2-core
machine. Writes ``bench/results/simulate.json`` and prints a table.

    .venv/bin/python bench/bench_simulate.py [--sizes 100000 1000000]
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

TARGET_SECONDS_1M = 120.0


def run_one(n: int, seed: int) -> dict[str, object]:
    """Time `detector simulate` end to end in a fresh process (peak memory included)."""
    out = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    code = (
        "import json, resource, time, sys\n"
        "from detector.simulate import SimConfig, simulate, write_province\n"
        "t0 = time.perf_counter()\n"
        f"p = simulate(SimConfig(dossiers={n}, seed={seed}))\n"
        "t1 = time.perf_counter()\n"
        f"write_province(p, {str(out)!r})\n"
        "t2 = time.perf_counter()\n"
        "print(json.dumps({'simulate_s': t1 - t0, 'write_s': t2 - t1, 'total_s': t2 - t0,\n"
        "  'peak_rss_gb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,\n"
        "  'proxy_type_share': p.manifest['proxy_type_share'],\n"
        "  'claimed_online_share': p.manifest['claimed_online_share'],\n"
        "  'rows': p.manifest['rows']}))\n"
    )
    try:
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        result = json.loads(res.stdout.strip().splitlines()[-1])
        result["csv_mb"] = round(sum(f.stat().st_size for f in (out / "data").glob("*")) / 1e6, 1)
        return {"dossiers": n, **result}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rows = [run_one(n, args.seed) for n in args.sizes]
    print(
        f"{'dossiers':>10} {'simulate':>9} {'write':>7} {'total':>7} {'peak GB':>8} {'CSV MB':>7}"
    )
    for r in rows:
        print(
            f"{r['dossiers']:>10,} {r['simulate_s']:>8.1f}s {r['write_s']:>6.1f}s "
            f"{r['total_s']:>6.1f}s {r['peak_rss_gb']:>8.2f} {r['csv_mb']:>7.0f}"
        )
    big = [r for r in rows if r["dossiers"] >= 1_000_000]
    verdict = "not measured"
    if big:
        verdict = "met" if big[0]["total_s"] <= TARGET_SECONDS_1M else "MISSED"
    print(f"target: 1,000,000 dossiers in <= {TARGET_SECONDS_1M:.0f}s: {verdict}")
    print("default proxy_type shares:", rows[-1]["proxy_type_share"])
    write_results("simulate", target_1m_seconds=TARGET_SECONDS_1M, verdict=verdict, runs=rows)
    return 0 if verdict != "MISSED" else 1


if __name__ == "__main__":
    sys.exit(main())
