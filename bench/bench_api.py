"""Benchmark: the scoring API, in process and over HTTP (issue #4's targets).

Targets on the 2-core machine, with 1 million dossiers of history:

- in process, ``OnlineScorer.score()`` + ``.add()`` of one dossier: median
  <= 0.5 ms; the state the history needs <= 3 GB of resident memory;
- over HTTP, ``POST /v1/score`` at 500 requests/s for 60 s: p99 <= 15 ms and
  no error; the highest rate it sustains at p99 <= 50 ms is at least half of
  the same server's ceiling on a trivial endpoint (``GET /healthz``).

How the figures are made
------------------------
A province of ``--dossiers`` dossiers (seed 1) is simulated and split: the
*history* folder holds every table and the dossiers submitted before its last
two weeks; the *later* dossiers are the raw CSV rows of those two weeks
(strings, empty cells as null), sent in submission order. The model is trained
once on a separate 100k province (seed 0): it does not depend on the history's
size. Everything generated is cached under ``--cache`` (default
``$TMPDIR/detector-bench-api``), so a rerun starts at the measurements.

*In process* runs in a fresh interpreter: the resident set size (RSS) is read
before and after building ``OnlineScorer(history, model, MemoryStore())``; the
growth is the state (history counters, reference tables and the model). Then
each later dossier is scored and added, as the API does, after a warm-up.

*Over HTTP* starts ``detector serve`` on the history (a fresh SQLite log in a
temporary folder, one random API key) and drives it with an open-loop load
generator: requests are scheduled at fixed intervals, whatever the server
does, and each latency runs from the request's *scheduled* send time to the
end of its answer, so a slow answer cannot hide the queue behind it (no
coordinated omission). Requests go over a pool of keep-alive HTTP/1.1
connections, pre-serialised; every scoring request carries a distinct dossier
(after the later dossiers run out, the same rows come again with a suffixed
``dossier_id``, since a scored dossier joins the history). An error is a
connection failure, an answer other than 200, a scoring answer whose status is
not ``scored``, or no answer within the step's drain time.

Reading the output
------------------
- ``in process``: the build time, the RSS growth (the state) and the peak RSS
  of that interpreter, then the per-dossier time of ``score()+add()`` (and of
  each alone) as median, p90, p99 and max in milliseconds, and how many
  dossiers took over 2 ms (the tail); then the time of ``evidence()``, the
  evidence subgraph the engine draws for a flagged dossier only.
- ``sustained``: one line at ``--rate`` for ``--seconds``: latency p50, p90,
  p99 and max in ms, errors (by kind at the end of the line), the achieved
  rate against the offered one, ``cpu gen`` the load generator's own CPU and
  ``srv`` the server's (shares of one core; both share the machine's two
  cores), the server's CPU milliseconds per request, and ``lag``, how late the
  generator put requests out against its schedule (a large lag means the
  generator, not the server, was the limit). ``(at least)`` after the
  latencies: some requests were still unanswered 10 s after the last send;
  they count as errors and with their wait so far, so the percentiles are
  lower bounds.
- ``search``: one line per rate step, for ``/v1/score`` then ``/healthz``;
  ``<- fails`` marks a step with p99 > 50 ms, an error, or an achieved rate
  more than 2 % under the offered one; a failing rate is tried once more
  before it counts as failed. Steps of ``--step-rate`` up to the first
  failure, then steps of a fifth of that between the last pass and it. The
  highest passing rates, and the scoring endpoint's as a share of the
  ``/healthz`` ceiling, close the report.
- The last table lists every target, the figure and ``met`` or ``MISSED``;
  the exit code is 1 when one is missed. Figures are only comparable on a
  quiet machine: the load average at start is recorded, and a warning printed
  when it is above 1 (this benchmark's own previous run counts too).
- ``--quick`` and profiled runs (``--profile``: cProfile of the in-process
  loop on stderr; ``--py-spy FILE``: the server's stacks during the sustained
  run, with py-spy installed in the virtualenv) leave ``bench/results/api.json``
  as it was.

    .venv/bin/python bench/bench_api.py --quick        # smoke run: 100k history, short steps
    .venv/bin/python bench/bench_api.py                # 1M history, the targets (~12 min cached)
    .venv/bin/python bench/bench_api.py --skip-http --profile   # where in-process time goes
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import math
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import uvloop
from _results import write_results

TARGETS = {
    "inprocess_median_ms": 0.5,
    "inprocess_state_gb": 3.0,
    "sustained_p99_ms": 15.0,
    "sustained_errors": 0,
    "search_p99_ms": 50.0,
    "share_of_ceiling": 0.5,
}
MODEL_DOSSIERS, MODEL_SEED, HISTORY_SEED, LATER_DAYS = 100_000, 0, 1, 14
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


# ---------------------------------------------------------------- generated inputs
def _detector(what: str, *args: object) -> None:
    """Run one ``detector`` command; on failure show its output and stop."""
    t0 = time.perf_counter()
    print(f"  {what} ...", flush=True)
    res = subprocess.run([str(BIN / "detector"), *map(str, args)], capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"{what} failed ({res.returncode}):\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    print(f"  {what}: {time.perf_counter() - t0:.0f} s", flush=True)


def _simulated(cache: Path, n: int, seed: int) -> Path:
    """A simulated province folder (data/, labels.csv), made once: built aside, then renamed."""
    province = cache / f"province-{n}-s{seed}"
    if not province.is_dir():
        work = Path(tempfile.mkdtemp(prefix="simulate-", dir=cache)) / "p"
        _detector(
            f"simulate {n:,} dossiers (seed {seed})",
            "simulate",
            work,
            "--dossiers",
            n,
            "--seed",
            seed,
        )
        work.rename(province)
        shutil.rmtree(work.parent)
    return province


def cached_model(cache: Path) -> Path:
    """The model trained on a 100k province (seed 0), built once."""
    model = cache / f"model-{MODEL_DOSSIERS}-s{MODEL_SEED}"
    if not (model / "model_card.json").is_file():
        province = _simulated(cache, MODEL_DOSSIERS, MODEL_SEED)
        shutil.rmtree(model, ignore_errors=True)
        _detector(
            "train the model",
            "train",
            province / "data",
            "--labels",
            province / "labels.csv",
            "--out",
            model,
        )
    return model


def cached_split(cache: Path, n: int) -> tuple[Path, Path]:
    """The history folder and the later dossiers (JSON lines) of an ``n``-dossier province."""
    root = cache / f"split-{n}-s{HISTORY_SEED}-{LATER_DAYS}d"
    if not (root / "later.jsonl").is_file():
        province = _simulated(cache, n, HISTORY_SEED)
        print(f"  split the last {LATER_DAYS} days off ...", flush=True)
        work = Path(tempfile.mkdtemp(prefix="split-", dir=cache))
        split_province(province / "data", work / "history", work / "later.jsonl")
        shutil.rmtree(root, ignore_errors=True)
        work.rename(root)
    return root / "history", root / "later.jsonl"


def split_province(data: Path, history: Path, later_path: Path) -> None:
    """Copy ``data`` to ``history`` without the last two weeks' dossiers; write those apart.

    The cut uses the submission time as the contract's reader normalises it.
    History rows are copied byte for byte. Later rows become dicts of strings
    (an empty cell is null), one per ``dossier_id`` in submission order; of a
    duplicated dossier the first row the API can score is kept, since the
    simulator's dirty duplicates (a garbled timestamp) would be refused with
    422, which is a right answer, not a failure this benchmark should count.
    """
    import pandas as pd

    from features import read_dataset

    ds = read_dataset(data, tables=["dossiers"])
    d = ds.tables["dossiers"][["dossier_id", "submitted_at"]].dropna()
    cutoff = d["submitted_at"].max() - pd.Timedelta(days=LATER_DAYS)
    late = d[d["submitted_at"] >= cutoff].sort_values("submitted_at", kind="stable")
    order: dict[str, int] = {}
    for k, dossier_id in enumerate(late["dossier_id"]):
        order.setdefault(str(dossier_id), k)
    del ds, d, late
    history.mkdir(parents=True)
    for path in data.iterdir():
        if path.is_file() and path.stem != "dossiers":
            shutil.copy2(path, history / path.name)
    later: dict[str, dict[str, str | None]] = {}
    with (
        (data / "dossiers.csv").open(newline="", encoding="utf-8") as src,
        (history / "dossiers.csv").open("w", newline="", encoding="utf-8") as dst,
    ):
        header_text = src.readline()
        header = next(csv.reader([header_text]))
        at = header.index("dossier_id")
        dst.write(header_text)
        record = ""
        for line in src:
            record += line
            if record.count('"') % 2:  # a quoted cell spans lines: read on
                continue
            row = next(csv.reader([record]))
            record, text = "", record
            key = row[at].strip() if len(row) > at else ""
            if key not in order:
                dst.write(text)
            elif key not in later:
                raw = {h: (v if v != "" else None) for h, v in zip(header, row, strict=False)}
                if scorable(raw):
                    later[key] = raw
    with later_path.open("w", encoding="utf-8") as f:
        for key in sorted(later, key=order.__getitem__):
            f.write(json.dumps(later[key], ensure_ascii=False) + "\n")


def scorable(raw: dict[str, str | None]) -> bool:
    """Whether the API would score this row (as ``OnlineScorer.normalise`` decides), not 422."""
    import pandas as pd

    from detector.online import SCORABLE
    from features import ContractError, normalise_dossier

    try:
        d, _ = normalise_dossier(raw)
    except ContractError:
        return False
    for name in SCORABLE:
        value = d.get(name)  # a channel outside the contract ("web") is refused, as the API does
        if not isinstance(value, str | pd.Timestamp) or not str(value).strip():
            return False
    return True


def load_later(path: Path) -> list[dict[str, str | None]]:
    """The later dossiers, in submission order."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def fresh_dossiers(later: list[dict[str, str | None]]) -> Iterator[dict[str, str | None]]:
    """Every later dossier once, then again and again with a suffixed ``dossier_id``."""
    rounds = 0
    while True:
        for row in later:
            yield row if not rounds else {**row, "dossier_id": f"{row['dossier_id']}-r{rounds}"}
        rounds += 1


# ---------------------------------------------------------------- in process
def rss_gb(pid: int | str = "self") -> float:
    """Resident memory of a process (GB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1e6
    return math.nan


def quantiles_ms(seconds: list[float] | np.ndarray) -> dict[str, float]:
    """Median, p90, p99 and max of durations in seconds, as milliseconds."""
    ms = np.asarray(seconds, dtype=float) * 1000
    if not len(ms):
        return {"p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan}
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {
        "p50": round(p50, 3),
        "p90": round(p90, 3),
        "p99": round(p99, 3),
        "max": round(float(ms.max()), 3),
    }


def inprocess(
    history: Path, model: Path, later_path: Path, warmup: int, samples: int, profile: bool
) -> dict[str, Any]:
    """Build the online scorer and time ``score()+add()``; meant for a fresh interpreter."""
    from detector.online import OnlineScorer
    from features.stores import MemoryStore

    feed = fresh_dossiers(load_later(later_path))
    dossiers = [next(feed) for _ in range(warmup + samples)]
    gc.collect()
    before = rss_gb()
    t0 = time.perf_counter()
    scorer = OnlineScorer(history, model, MemoryStore())
    build_s = time.perf_counter() - t0
    gc.collect()
    after = rss_gb()
    score_s, add_s, both_s, evidence_s = [], [], [], []
    for raw in dossiers[:warmup]:
        scorer.add(scorer.score(raw))
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    for raw in dossiers[warmup:]:
        t0 = time.perf_counter()
        scored = scorer.score(raw)
        t1 = time.perf_counter()
        if scored.score.flagged:  # the engine draws a flagged dossier's evidence, before add
            scorer.evidence(scored, 10)
            evidence_s.append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        scorer.add(scored)
        t3 = time.perf_counter()
        score_s.append(t1 - t0)
        add_s.append(t3 - t2)
        both_s.append(score_s[-1] + add_s[-1])
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)
    return {
        "history_dossiers": scorer.history_size,
        "build_s": round(build_s, 1),
        "rss_before_gb": round(before, 3),
        "rss_after_gb": round(after, 3),
        "state_gb": round(after - before, 3),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
        "warmup": warmup,
        "samples": samples,
        "profiled": profile,
        "score_add_ms": quantiles_ms(both_s),
        "over_2ms": sum(x > 0.002 for x in both_s),
        "score_ms": quantiles_ms(score_s),
        "add_ms": quantiles_ms(add_s),
        "flagged": len(evidence_s),
        "evidence_ms": quantiles_ms(evidence_s) if evidence_s else None,
    }


def inprocess_child(
    history: Path, model: Path, later: Path, warmup: int, samples: int, profile: bool
) -> dict[str, Any]:
    """Run :func:`inprocess` in a fresh interpreter, so RSS and peak are the scorer's alone."""
    args = [
        sys.executable,
        __file__,
        "--child-inprocess",
        str(history),
        str(model),
        str(later),
        "--warmup",
        str(warmup),
        "--samples",
        str(samples),
    ] + (["--profile"] if profile else [])
    res = subprocess.run(args, stdout=subprocess.PIPE, text=True)
    if res.returncode:
        sys.exit(f"in-process benchmark failed ({res.returncode})")
    return json.loads(res.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the server
def free_port() -> int:
    """A TCP port nobody listens on now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """``detector serve`` in a subprocess, with a fresh log folder and one portal key."""

    history: Path
    model: Path
    port: int = field(default_factory=free_port)
    key: str = field(default_factory=lambda: secrets.token_hex(16))
    state: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-api-state-")))
    #: worker processes; more than one shares the history through Redis (``--store redis``)
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = None
    ready_s: float = math.nan
    readiness: dict[str, Any] = field(default_factory=dict)

    def start(self, timeout: float = 900.0) -> None:
        """Start and wait for ``GET /readyz`` = 200 (loading 1M dossiers takes a while)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DETECTOR_DATABASE_URL", "DETECTOR_STORE")
        }
        env.update(
            DETECTOR_API_KEYS=f"{self.key}:portal",
            DETECTOR_STATE_DIR=str(self.state),
            DETECTOR_LOG_LEVEL="WARNING",
            DETECTOR_REDIS_PREFIX=f"detector-bench-{self.key[:8]}",
            DETECTOR_STATE_SECRET=self.key,
        )
        several = ["--workers", str(self.workers), "--store", "redis"] if self.workers > 1 else []
        out = (self.state / "server.log").open("wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                str(BIN / "detector"),
                "serve",
                "--data",
                str(self.history),
                "--model",
                str(self.model),
                "--host",
                HOST,
                "--port",
                str(self.port),
                *several,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        ready: set[int] = set()  # worker pids seen ready (each new connection may reach another)
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                sys.exit(f"the server stopped ({self.proc.returncode}):\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/readyz", timeout=5) as r:
                    if r.status == 200:
                        self.readiness = json.loads(r.read())
                        ready.add(int(self.readiness.get("worker", 0)))
                        if len(ready) >= self.workers:
                            self.ready_s = time.perf_counter() - t0
                            return
                        continue
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        sys.exit(f"the server was not ready within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        """The end of the server's output, for error messages."""
        return (self.state / "server.log").read_text(errors="replace")[-3000:]

    def pids(self) -> list[int]:
        """The server's process and its children (uvicorn's workers, when several)."""
        out = [self.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.pid:
                    out.append(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue
        return out

    def cpu_s(self) -> float:
        """CPU seconds the server's processes have used (user + system)."""
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    @property
    def pid(self) -> int:
        """The server's process id (``detector serve`` runs uvicorn in its own process)."""
        assert self.proc is not None
        return self.proc.pid

    def rss_gb(self) -> float:
        """The server's resident memory (GB), all its processes together."""
        return sum(rss_gb(pid) for pid in self.pids())

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 20 s) and remove its log folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.state, ignore_errors=True)


def score_request(port: int, key: str, dossier: dict[str, str | None]) -> bytes:
    """``POST /v1/score`` with the dossier as its JSON body, as bytes ready to write."""
    body = json.dumps(dossier, ensure_ascii=False, separators=(",", ":")).encode()
    return (
        f"POST /v1/score HTTP/1.1\r\nHost: {HOST}:{port}\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def healthz_request(port: int) -> bytes:
    """``GET /healthz`` as bytes ready to write."""
    return f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()


# ---------------------------------------------------------------- the load generator
@dataclass
class Step:
    """What one constant-rate step measured."""

    endpoint: str
    rate: float
    seconds: float
    sent: int
    ok: int
    errors: int
    error_kinds: dict[str, int]
    latency_ms: dict[str, float]
    lag_ms: dict[str, float]
    achieved_rate: float
    client_cpu: float
    server_cpu: float
    server_cpu_ms_per_request: float
    unanswered: int = 0
    first_error: str = ""

    def passed(self, p99_ms: float) -> bool:
        """No error, p99 within ``p99_ms`` and the offered rate achieved (within 2 %)."""
        return (
            self.errors == 0
            and self.latency_ms["p99"] <= p99_ms
            and self.achieved_rate >= 0.98 * self.rate
        )

    def line(self) -> str:
        """One line for the terminal."""
        q = self.latency_ms
        return (
            f"{self.endpoint:<10} {self.rate:>6.0f}/s x{self.seconds:>3.0f}s  "
            f"p50 {q['p50']:6.2f}  p90 {q['p90']:6.2f}  p99 {q['p99']:7.2f}  max {q['max']:7.1f} ms"
            f"{' (at least)' if self.unanswered else ''}  "
            f"errors {self.errors:>4}  achieved {self.achieved_rate:7.1f}/s  "
            f"cpu gen {self.client_cpu:4.0%} srv {self.server_cpu:4.0%} "
            f"({self.server_cpu_ms_per_request:.2f} ms/req)  lag p99 {self.lag_ms['p99']:.1f} ms"
            + (f"  {self.error_kinds}" if self.errors else "")
        )


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> tuple[int, bytes, bool]:
    """Send one request, read one answer: status, body, whether the server closes."""
    writer.write(payload)
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    status = int(head[9:12])
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        raise ValueError("answer without content-length")
    length = int(head[at + 17 : head.index(b"\r\n", at + 2)])
    body = await reader.readexactly(length)
    return status, body, b"\r\nconnection: close" in head


async def constant_rate(
    port: int,
    payloads: list[bytes],
    rate: float,
    expect: bytes,
    connections: int,
    drain_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Counter[str], str, float]:
    """Send ``payloads`` open-loop at ``rate`` per second over a pool of keep-alive connections.

    Returns the latencies (seconds, from the scheduled send; NaN when no good
    answer), the waits of the requests still unanswered ``drain_s`` after the
    last send (lower bounds of their latencies), the send lags, the error
    kinds, the first error's text and the time from the first scheduled send
    to the last answer.

    Notes
    -----
    A dispatcher puts each request on a queue at its scheduled time; the first
    idle connection takes it. When every connection is busy the request waits
    in the queue, and that wait counts in its latency, as it would for a portal.
    """
    n = len(payloads)
    lat = np.full(n, np.nan)
    lag = np.full(n, np.nan)
    answered = np.zeros(n, dtype=bool)
    errors: Counter[str] = Counter()
    first_error = ""
    last_done = 0.0
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    pool = [await asyncio.open_connection(HOST, port) for _ in range(connections)]

    async def worker(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
        nonlocal first_error, last_done
        while (item := await queue.get()) is not None:
            i, scheduled = item
            try:
                if conn is None:
                    conn = await asyncio.open_connection(HOST, port)
                status, body, closing = await _exchange(*conn, payloads[i])
                done = time.perf_counter()
                answered[i] = True
                last_done = max(last_done, done)
                if status != 200 or (expect and expect not in body):
                    errors[f"http {status}" if status != 200 else "not scored"] += 1
                    first_error = first_error or f"{status}: {body[:300]!r}"
                else:
                    lat[i] = done - scheduled
                if closing:
                    conn[1].close()
                    conn = None
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
            ) as exc:
                errors[type(exc).__name__] += 1
                answered[i] = True
                first_error = first_error or repr(exc)
                if conn is not None:
                    conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    tasks = [asyncio.create_task(worker(c)) for c in pool]
    start = time.perf_counter() + 0.05
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, scheduled))
        lag[i] = time.perf_counter() - scheduled
    for _ in tasks:
        queue.put_nowait(None)
    _, pending = await asyncio.wait(tasks, timeout=drain_s)
    deadline = time.perf_counter()
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    waited = deadline - (start + np.flatnonzero(~answered) / rate)
    if len(waited):
        errors["no answer in time"] += len(waited)
    return lat, waited, lag, errors, first_error, max(last_done - start, 1e-9)


def run_step(
    server: Server, endpoint: str, payloads: list[bytes], rate: float, connections: int
) -> Step:
    """One constant-rate step, with the generator's and the server's CPU use around it."""
    expect = b'"status":"scored"' if endpoint == "score" else b'"ok"'
    seconds = len(payloads) / rate
    gc.collect()
    gc.disable()  # the generator's own pauses would count as server latency
    cpu0, srv0, t0 = time.process_time(), server.cpu_s(), time.perf_counter()
    try:
        lat, waited, lag, errors, first, span = uvloop.run(
            constant_rate(server.port, payloads, rate, expect, connections, drain_s=10.0)
        )
    finally:
        gc.enable()
    wall = time.perf_counter() - t0
    server_s = server.cpu_s() - srv0
    ok = int(np.isfinite(lat).sum())
    return Step(
        endpoint=endpoint,
        rate=rate,
        seconds=round(seconds, 1),
        sent=len(payloads),
        ok=ok,
        errors=sum(errors.values()),
        error_kinds=dict(errors),
        # the unanswered count with their waits so far: the percentiles are then lower bounds
        latency_ms=quantiles_ms(np.concatenate([lat[np.isfinite(lat)], waited])),
        unanswered=len(waited),
        lag_ms=quantiles_ms(lag[np.isfinite(lag)]),
        achieved_rate=round(ok / span, 1),
        client_cpu=round((time.process_time() - cpu0) / wall, 3),
        server_cpu=round(server_s / wall, 3),
        server_cpu_ms_per_request=round(server_s * 1000 / len(payloads), 3),
        first_error=first,
    )


class Feed:
    """Pre-serialised requests: a distinct dossier for every scoring request."""

    def __init__(self, server: Server, later: list[dict[str, str | None]]) -> None:
        self.server, self.dossiers = server, fresh_dossiers(later)
        self.healthz = healthz_request(server.port)

    def take(self, endpoint: str, n: int) -> list[bytes]:
        """The next ``n`` requests to ``endpoint`` (``score`` or ``healthz``)."""
        if endpoint == "healthz":
            return [self.healthz] * n
        return [
            score_request(self.server.port, self.server.key, next(self.dossiers)) for _ in range(n)
        ]


def search(
    feed: Feed,
    endpoint: str,
    start: float,
    step: float,
    seconds: float,
    connections: int,
    p99_ms: float,
) -> dict[str, Any]:
    """The highest rate whose step passes: coarse steps up, then finer ones below the failure.

    From ``start`` the rate rises by ``step`` until a step fails; when ``start``
    itself fails it halves instead, until one passes (down to 1/16 of it). Then
    it rises from the last pass by a fifth of the gap to the first failure, so
    the result is within ``step / 5`` of the true limit. A failing step is run
    once more before its rate counts as failed: one hiccup of another process on
    the shared machine must not end the search (both steps are kept).
    """
    steps: list[Step] = []

    def passes(rate: float) -> bool:
        for attempt in ("", " (again)"):
            s = run_step(
                feed.server, endpoint, feed.take(endpoint, int(rate * seconds)), rate, connections
            )
            steps.append(s)
            ok = s.passed(p99_ms)
            print("  " + s.line() + ("" if ok else f"  <- fails{attempt}"), flush=True)
            time.sleep(2.0)  # let the server's queue and the generator settle
            if ok:
                return True
        return False

    best, failed = 0.0, math.inf
    rate = start
    while rate <= 50_000:
        if passes(rate):
            best = rate
            if failed < math.inf:
                break
            rate += step
        else:
            failed = rate
            if best or rate <= start / 16:
                break
            rate /= 2
    if best and failed < math.inf:
        fine = (failed - best) / 5
        rate = best + fine
        while rate < failed - fine / 2 and passes(rate):
            best = rate
            rate += fine
    last = next((s for s in steps if s.rate == best and s.passed(p99_ms)), None)
    return {
        "highest_rate": best,
        "achieved_at_highest": last.achieved_rate if last else 0.0,
        "steps": [asdict(s) for s in steps],
    }


def http(
    history: Path, model: Path, later: list[dict[str, str | None]], a: argparse.Namespace
) -> dict[str, Any]:
    """Start the server, then the sustained run and the two rate searches."""
    server = Server(history, model, workers=a.workers)
    print(f"  starting detector serve on port {server.port} ...", flush=True)
    server.start()
    print(f"  ready in {server.ready_s:.0f} s, server RSS {server.rss_gb():.2f} GB", flush=True)
    try:
        feed = Feed(server, later)
        warm = run_step(server, "score", feed.take("score", 300), 100.0, a.connections)
        print("  warm-up " + warm.line(), flush=True)
        if warm.errors:
            sys.exit(f"warm-up failed: {warm.first_error}\n{server.log()}")
        rss_ready = server.rss_gb()
        spy = None
        if a.py_spy:  # sample the server's stacks during the sustained run (perturbs it)
            spy = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(server.pid),
                    "--rate",
                    "100",
                    "--duration",
                    str(int(a.seconds) + 2),
                    "--format",
                    "raw",
                    "--output",
                    str(a.py_spy),
                ],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(1.0)
        sustained = run_step(
            server, "score", feed.take("score", int(a.rate * a.seconds)), a.rate, a.connections
        )
        print("  sustained " + sustained.line(), flush=True)
        if spy is not None:
            spy.wait()
            print(f"  server stacks (py-spy, collapsed): {a.py_spy}", flush=True)
        time.sleep(2.0)
        print("  search /v1/score:", flush=True)
        score_search = search(
            feed,
            "score",
            a.rate,
            a.step_rate,
            a.step_seconds,
            a.connections,
            TARGETS["search_p99_ms"],
        )
        time.sleep(2.0)
        print("  search /healthz:", flush=True)
        ceiling = search(
            feed,
            "healthz",
            a.rate,
            a.step_rate,
            a.step_seconds,
            a.connections,
            TARGETS["search_p99_ms"],
        )
        return {
            "history_dossiers": server.readiness.get("history_dossiers"),
            "server_ready_s": round(server.ready_s, 1),
            "server_rss_ready_gb": round(rss_ready, 3),
            "server_rss_end_gb": round(server.rss_gb(), 3),
            "connections": a.connections,
            "warmup": asdict(warm),
            "sustained": asdict(sustained),
            "search_score": score_search,
            "search_healthz": ceiling,
            "share_of_ceiling": round(score_search["highest_rate"] / ceiling["highest_rate"], 3)
            if ceiling["highest_rate"]
            else None,
        }
    finally:
        server.stop()


# ---------------------------------------------------------------- report
def verdicts(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of (target, figure, limit, met/MISSED) for what was measured."""
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, value: float, limit: float, fmt: str, higher: bool = False) -> None:
        ok = value >= limit if higher else value <= limit
        sign = ">=" if higher else "<="
        rows.append((name, format(value, fmt), f"{sign} {limit:{fmt}}", "met" if ok else "MISSED"))

    ip = res.get("inprocess")
    if ip:
        row(
            "in process: score+add median (ms)",
            ip["score_add_ms"]["p50"],
            TARGETS["inprocess_median_ms"],
            ".3f",
        )
        row("in process: state RSS (GB)", ip["state_gb"], TARGETS["inprocess_state_gb"], ".2f")
    h = res.get("http")
    if h:
        s = h["sustained"]
        row(
            f"HTTP {s['rate']:.0f}/s: p99 (ms)",
            s["latency_ms"]["p99"],
            TARGETS["sustained_p99_ms"],
            ".2f",
        )
        row(f"HTTP {s['rate']:.0f}/s: errors", s["errors"], TARGETS["sustained_errors"], "d")
        if h["share_of_ceiling"] is not None:
            row(
                "HTTP: highest score rate / healthz ceiling",
                h["share_of_ceiling"],
                TARGETS["share_of_ceiling"],
                ".0%",
                higher=True,
            )
    return rows


def summary(res: dict[str, Any]) -> None:
    """Print the figures and the targets' table."""
    print()
    print(
        f"history: {res['history_dossiers'] or 0:,} dossiers; later dossiers: "
        f"{res['later_dossiers']:,}; {res['model']}"
    )
    ip = res.get("inprocess")
    if ip:
        print(
            f"in process: build {ip['build_s']:.1f} s; RSS {ip['rss_before_gb']:.2f} -> "
            f"{ip['rss_after_gb']:.2f} GB (state {ip['state_gb']:.2f} GB), "
            f"peak {ip['peak_rss_gb']:.2f} GB"
        )
        for name in ("score_add_ms", "score_ms", "add_ms"):
            q = ip[name]
            print(
                f"  {name[:-3].replace('_', '+'):<10} median {q['p50']:.3f}  p90 {q['p90']:.3f}  "
                f"p99 {q['p99']:.3f}  max {q['max']:.1f} ms  (n={ip['samples']})"
            )
        print(f"  dossiers over 2 ms: {ip['over_2ms']} of {ip['samples']}")
        q = ip.get("evidence_ms")
        if q:  # drawn by the engine for a flagged dossier only, outside score+add
            print(
                f"  evidence   median {q['p50']:.3f}  p90 {q['p90']:.3f}  p99 {q['p99']:.3f}  "
                f"max {q['max']:.1f} ms  (n={ip['flagged']} flagged)"
            )
    h = res.get("http")
    if h:
        print(
            f"HTTP: server ready in {h['server_ready_s']:.0f} s, RSS {h['server_rss_ready_gb']:.2f}"
            f" GB after warm-up, {h['server_rss_end_gb']:.2f} GB at the end"
        )
        print("  sustained  " + Step(**h["sustained"]).line())
        for name, key in (("/v1/score", "search_score"), ("/healthz", "search_healthz")):
            s = h[key]
            print(
                f"  highest rate at p99 <= {TARGETS['search_p99_ms']:.0f} ms, {name}: "
                f"{s['highest_rate']:.0f}/s (achieved {s['achieved_at_highest']:.0f}/s)"
            )
        if h["share_of_ceiling"] is not None:
            print(f"  /v1/score's highest rate is {h['share_of_ceiling']:.0%} of the ceiling")
    print()
    rows = verdicts(res)
    width = max((len(r[0]) for r in rows), default=10)
    for name, value, limit, verdict in rows:
        print(f"  {name:<{width}}  {value:>8}  {limit:<9} {verdict}")
    if res["warning"]:
        print("WARNING: " + res["warning"])


def main() -> int:
    """Prepare the inputs, measure, print, write ``bench/results/api.json``; 1 if a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dossiers", type=int, default=1_000_000, help="history province size")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the sustained run")
    ap.add_argument("--rate", type=float, default=500.0, help="sustained rate, requests/s")
    ap.add_argument("--step-rate", type=float, default=250.0, help="rate increment of the search")
    ap.add_argument("--step-seconds", type=float, default=15.0, help="length of a search step")
    ap.add_argument("--connections", type=int, default=48, help="keep-alive connections")
    ap.add_argument("--warmup", type=int, default=1000, help="in-process warm-up dossiers")
    ap.add_argument("--samples", type=int, default=5000, help="in-process timed dossiers")
    ap.add_argument(
        "--workers", type=int, default=1, help="server workers (>1: shared history in Redis)"
    )
    ap.add_argument("--profile", action="store_true", help="cProfile the in-process loop")
    ap.add_argument(
        "--py-spy", type=Path, help="sample the server with py-spy (pip install py-spy) into FILE"
    )
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-inprocess", action="store_true")
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 100k history, 10 s, 5 s steps, not written"
    )
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "detector-bench-api"
    )
    ap.add_argument("--child-inprocess", nargs=3, type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_inprocess:
        history, model, later = a.child_inprocess
        print(json.dumps(inprocess(history, model, later, a.warmup, a.samples, a.profile)))
        return 0
    if a.quick:
        a.dossiers, a.seconds, a.step_seconds, a.samples = 100_000, 10.0, 5.0, 2000

    load = os.getloadavg()
    warning = ""
    if load[0] > 1.0:
        warning = (
            f"load average {load[0]:.2f} at start (> 1): other jobs share the 2 cores, "
            "so these figures were taken under load"
        )
        print("WARNING: " + warning, flush=True)
    a.cache.mkdir(parents=True, exist_ok=True)
    print(f"inputs (cached in {a.cache}):", flush=True)
    model = cached_model(a.cache)
    history, later_path = cached_split(a.cache, a.dossiers)
    later = load_later(later_path)
    res: dict[str, Any] = {
        "targets": TARGETS,
        "loadavg_at_start": [round(x, 2) for x in load],
        "warning": warning,
        "history_dossiers": None,
        "later_dossiers": len(later),
        "model": f"model trained once on a {MODEL_DOSSIERS:,}-dossier province (seed {MODEL_SEED});"
        " it does not depend on the history's size",
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
    }
    if not a.skip_inprocess:
        print("in process:", flush=True)
        res["inprocess"] = inprocess_child(
            history, model, later_path, a.warmup, a.samples, a.profile
        )
        res["history_dossiers"] = res["inprocess"]["history_dossiers"]
    if not a.skip_http:
        print(f"over HTTP (load average {os.getloadavg()[0]:.2f}):", flush=True)
        res["http"] = http(history, model, later, a)
    if res["history_dossiers"] is None and "http" in res:
        res["history_dossiers"] = res["http"]["history_dossiers"]
    res["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    res["verdicts"] = verdicts(res)
    summary(res)
    if a.profile or a.py_spy or a.quick:
        why = "a smoke run (--quick)" if a.quick else "profiled: the figures are perturbed"
        print(f"{why}: bench/results/api.json is left as it was")
    else:
        write_results("api", **res)
    return 1 if any(v[3] == "MISSED" for v in res["verdicts"]) else 0


if __name__ == "__main__":
    sys.exit(main())
