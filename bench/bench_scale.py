"""Benchmark: the pandas and Dask engines from 1M to 10M dossiers (issue #12).

Each step runs as the real CLI in its own process; a sampler adds up the
resident memory of the whole process tree (the command, and with
``--engine dask`` the scheduler, nannies and workers) every 0.2 s, and the
disk used under the Dask workers' folder (spill and on-disk shuffles). Writes
``bench/results/scale.json``: per size, engine and step, wall time, peak
memory and peak spill, and the growth from the smallest to the largest size.

    .venv/bin/python bench/bench_scale.py                  # 1M both engines, 10M Dask
    .venv/bin/python bench/bench_scale.py --sizes 1000000 --engines pandas dask
    .venv/bin/python bench/bench_scale.py --quick          # 100k both engines: a smoke run

Data: ``detector simulate --format parquet --parts`` (one file per month;
``--provinces`` when the simulator has it, for national sizes), cached under
``--work`` so a second run does not simulate again. The model is trained once
per size with the pandas engine on at most 1M dossiers (the Dask engine's
``train`` step is measured beside it, on its uniform sample).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from _results import write_results

CLI = [sys.executable, "-m", "service.cli"]
#: local Dask workers (``--workers``; None: one per core)
WORKERS: int | None = None
TARGETS = {"score_1m_s": 40.0, "train_1m_s": 120.0, "peak_1m_gb": 4.0, "peak_10m_dask_gb": 8.0}


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total


def _dir_size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, f))
    return total


def measure(cmd: list[str], spill_dir: Path | None = None) -> dict[str, float]:
    """Run ``cmd``; its wall time, peak memory of its process tree and peak disk under ``spill_dir``."""
    env = dict(os.environ)
    if spill_dir is not None:
        shutil.rmtree(spill_dir, ignore_errors=True)
        spill_dir.mkdir(parents=True)
        env["DETECTOR_DASK_DIR"] = str(spill_dir)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ps = psutil.Process(proc.pid)
    peak = {"rss": 0, "disk": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["rss"] = max(peak["rss"], _tree_rss(ps))
            if spill_dir is not None:
                peak["disk"] = max(peak["disk"], _dir_size(spill_dir))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = proc.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return {
        "seconds": round(seconds, 1),
        "peak_gb": round(peak["rss"] / 1e9, 2),
        "spill_gb": round(peak["disk"] / 1e9, 2),
    }


def simulate(work: Path, n: int, seed: int) -> Path:
    out = work / f"sim-{n}"
    if (out / "data").is_dir() and (out / "labels.csv").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*CLI, "simulate", str(out), "--dossiers", str(n), "--seed", str(seed)]
    cmd += ["--format", "parquet", "--parts"]
    help_text = subprocess.run([*CLI, "simulate", "--help"], capture_output=True, text=True).stdout
    if n > 2_000_000 and "--provinces" in help_text:
        cmd += ["--provinces", str(max(2, n // 1_000_000))]
    print(f"simulating {n:,} dossiers ...", flush=True)
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def one_size(
    work: Path, n: int, engines: list[str], seed: int, steps_wanted: list[str], memory: str
) -> dict[str, dict[str, dict]]:
    sim = simulate(work, n, seed)
    data, labels = sim / "data", sim / "labels.csv"
    model = work / f"model-{n}"
    spill = work / "dask-spill"
    res: dict[str, dict[str, dict]] = {}
    for engine in engines:
        flags = ["--engine", engine]
        if engine == "dask":
            flags += ["--memory-limit", memory]
            if WORKERS:
                flags += ["--workers", str(WORKERS)]
        steps: dict[str, dict] = {}
        if "train" in steps_wanted and (n <= 1_000_000 or engine == "dask"):
            print(f"{n:,} {engine}: train", flush=True)
            out = model if engine == "pandas" else work / f"model-{n}-dask"
            steps["train"] = measure(
                [*CLI, "train", str(data), "--labels", str(labels), "--out", str(out), *flags],
                spill if engine == "dask" else None,
            )
            if not model.exists():
                shutil.copytree(out, model)
        if not model.exists():
            raise SystemExit(f"{model}: no model; run with the train step first")
        outputs = {"score": f"scores-{n}-{engine}.parquet", "report": f"report-{n}-{engine}.csv"}
        for step, name in outputs.items():
            if step in steps_wanted:
                print(f"{n:,} {engine}: {step}", flush=True)
                steps[step] = measure(
                    [*CLI, step, str(data), "--model", str(model), "--out", str(work / name),
                     *flags],
                    spill if engine == "dask" else None,
                )  # fmt: skip
        res[engine] = steps
        print(json.dumps({engine: steps}), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--engines", nargs="+", default=None, help="default: both at 1M, dask beyond")
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-scale"))
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--quick", action="store_true", help="100k, both engines")
    ap.add_argument("--steps", nargs="+", default=["train", "score", "report"])
    ap.add_argument("--memory-limit", default="3GB", help="per Dask worker (2 workers here)")
    ap.add_argument("--name", default=None, help="results file name (default: scale)")
    ap.add_argument("--workers", type=int, default=None, help="local Dask workers")
    args = ap.parse_args()
    global WORKERS
    WORKERS = args.workers
    sizes = [100_000] if args.quick else args.sizes
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for n in sizes:
        engines = args.engines or (["pandas", "dask"] if n <= 1_000_000 else ["dask"])
        results[str(n)] = one_size(args.work, n, engines, args.seed, args.steps, args.memory_limit)
    growth = {}
    if len(sizes) > 1:
        lo, hi = str(min(sizes)), str(max(sizes))
        for engine in results[hi]:
            if engine in results[lo]:
                growth[engine] = {
                    step: {
                        "time_x": round(v["seconds"] / results[lo][engine][step]["seconds"], 1),
                        "memory_x": round(v["peak_gb"] / max(0.01, results[lo][engine][step]["peak_gb"]), 1),
                    }
                    for step, v in results[hi][engine].items()
                    if step in results[lo][engine]
                }  # fmt: skip
    write_results(
        args.name or ("scale" if not args.quick else "scale_quick"),
        memory_limit_per_worker=args.memory_limit,
        workers=args.workers or os.cpu_count(),
        sizes=sizes,
        results=results,
        growth=growth,
        targets=TARGETS,
        note="peak_gb: resident memory of the command's whole process tree (scheduler and "
        "workers included); spill_gb: disk under the Dask workers' folder",
    )


if __name__ == "__main__":
    main()
