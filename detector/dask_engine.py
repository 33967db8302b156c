"""The Dask engine of ``detector train``, ``score``, ``report`` and ``evaluate`` (``--engine dask``).

The pandas engine (:mod:`detector.batch`) holds a province in one process;
this one holds none: the registry's frame computations run per partition on a
Dask cluster (:mod:`features.partitioned`), the detector scores each
partition, and the outputs are written per partition. ``--scheduler ADDRESS``
uses a running cluster (``dask scheduler`` / ``dask worker``, Kubernetes or a
batch scheduler: every worker must read the data folder and the model folder
at the same paths); without it a :class:`distributed.LocalCluster` starts on
this machine, one single-threaded worker per core, spilling to disk past its
memory limit.

- **score**: scores, flags and reasons per partition, written as one file per
  partition under ``<out>.parts/`` and, when ``--out`` names a ``.csv`` or
  ``.parquet`` file, also stacked into it in the folder's order (the pandas
  engine's file, row for row). ``--out`` without a suffix is the folder of
  parts only.
- **report**: each partition's unit × month and officer × month sums, added
  up; the shares are formed once from the sums (:func:`detector.batch.unit_report`'s
  formulas).
- **train**: features for the whole history on the cluster (the counters
  need every earlier dossier), then a **uniform sample** of the labelled
  dossiers (at most ``sample_rows``, by a hash of the dossier ID, so the same
  folder gives the same sample) is fitted in this process. A sample rather
  than an incremental fit: gradient-boosted trees gain little past a million
  rows (the class mix is kept, so calibration is not biased), and the scikit-
  learn estimators the detector uses have no ``partial_fit``.
- **evaluate**: features on the cluster, the evaluation (a province's held-out
  months, baselines and fairness rates) in this process.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from detector.artifacts import load
from detector.batch import (
    local_day,
    report_frame,
    report_sums,
    report_tables,
    window_mask,
    write_table,
)
from features import partitioned as P
from features.errors import UsageError
from features.reader import Dataset

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

Progress = Callable[[str], None]

#: the dossier columns the unit report reads, carried beside the scores
_REPORT_COLUMNS = ("unit_id", "channel", "received_by", "submitted_at")
#: train on at most this many labelled dossiers (a uniform sample beyond it)
SAMPLE_ROWS = 1_000_000


def _say(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


@contextmanager
def cluster(
    scheduler: str | None = None,
    workers: int | None = None,
    memory_limit: str | None = None,
) -> Iterator[Client]:
    """A client of the cluster at ``scheduler``, or of a new ``LocalCluster`` on this machine.

    Parameters
    ----------
    scheduler : ``tcp://host:8786`` of a running scheduler; ``None`` starts a
        local cluster.
    workers : local workers (default: one per core), sharing the cores as
        threads (one worker per core: single-threaded workers, no GIL between
        them; one worker with every core: the reference tables held once,
        for a machine whose memory is the limit).
    memory_limit : per local worker, e.g. ``"3GB"`` (default: Dask's share
        of the machine's memory); past it a worker spills to disk, and its
        shuffles are on disk (``p2p``).

    ``DETECTOR_DASK_TIMEOUT`` (default 15s) is how long to wait for the scheduler.

    Raises
    ------
    UsageError
        The scheduler cannot be reached.
    """
    # the workers inherit the environment: their start and stop lines stay out of the output
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)
    logging.getLogger("distributed.shuffle._scheduler_plugin").setLevel(logging.ERROR)
    if scheduler:
        try:
            client = Client(scheduler, timeout=os.environ.get("DETECTOR_DASK_TIMEOUT", "15s"))
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"--scheduler {scheduler}: no Dask scheduler answered ({exc}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, or leave --scheduler "
                "out for a cluster on this machine"
            ) from exc
        with client:
            _ready(client)
            yield client
        return
    n = workers or P.default_workers()
    local = LocalCluster(
        n_workers=n,
        threads_per_worker=max(1, P.default_workers() // n),
        processes=True,
        memory_limit=memory_limit or "auto",
        dashboard_address=None,
        local_directory=os.environ.get("DETECTOR_DASK_DIR") or None,
    )
    with local, Client(local) as client:
        _ready(client)
        yield client


def _ready(client: Client) -> None:
    """Every worker imports ``dask.dataframe`` now, and each one that joins later on its start.

    A worker that meets ``dask.dataframe`` first in a message it unpickles,
    while one of its task threads imports it too, can fail with "cannot
    import name 'DataFrame' from partially initialized module" and be
    removed (dask/distributed issue 8759; seen here in one test run in four).
    Imported before any task, it is whole when the messages come.
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class ImportDataframe(WorkerPlugin):
        name = "detector-import-dask-dataframe"

        def setup(self, worker: Any) -> None:
            import dask.dataframe  # noqa: F401

    client.register_plugin(ImportDataframe())


@contextmanager
def prepared(data_dir: str | Path) -> Iterator[Path]:
    """The folder's reference tables read once here and kept for the workers, during one command.

    Under ``DETECTOR_DASK_DIR`` (storage every worker reads; default: this
    machine's temporary folder), removed when the command ends: they hold
    personal data, kept no longer than the run needs.
    """
    import shutil
    import tempfile

    root = Path(os.environ.get("DETECTOR_DASK_DIR") or tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    run = Path(tempfile.mkdtemp(prefix="detector-run-", dir=root))
    try:
        yield P.prepare_references(data_dir, run)
    finally:
        shutil.rmtree(run, ignore_errors=True)


@functools.lru_cache(maxsize=4)
def _detector(model_dir: str, at: str) -> Any:
    return load(model_dir, at)[0]


def score_part(
    part: pd.DataFrame,
    model_dir: str,
    at: str,
    since: str | None = None,
    until: str | None = None,
    carry: tuple[str, ...] = (),
) -> pd.DataFrame:
    """The detector's scores of one partition of :func:`features.partitioned.features_frame`.

    Columns as :func:`detector.batch.score_dataset` (``dossier_id`` first),
    plus the ``carry`` columns of the dossiers; index :data:`ROW`.
    """
    det = _detector(model_dir, at)
    keep = window_mask(part[P.T].to_numpy(np.int64), since, until)
    frame, gaps = P.moment_frame(part[keep], at)
    scored = det.score_frame(frame, gaps)
    scored.insert(0, "dossier_id", scored.index)
    scored.index = part.index[keep]
    for col in carry:
        scored[col] = (
            part[P.CARRY + col].to_numpy()[keep] if len(scored) else part[P.CARRY + col].iloc[:0]
        )
    return scored


def scores(
    data_dir: str | Path,
    model_dir: str | Path,
    at: str = "review",
    since: str | None = None,
    until: str | None = None,
    carry: tuple[str, ...] = (),
    rows_per_partition: int = 250_000,
    refs: Path | None = None,
) -> dd.DataFrame:
    """Every dossier's scores in the window, as a lazy Dask frame (the history all counts).

    ``refs``: the reference tables prepared for the workers (:func:`prepared`).
    """
    check_options(model_dir, at, since, until)
    feats = P.features_frame(data_dir, (at,), rows_per_partition, carry=carry, prepared=refs)
    meta = score_part(feats._meta, str(model_dir), at, carry=carry)
    return feats.map_partitions(score_part, str(model_dir), at, since, until, carry, meta=meta)


def check_options(model_dir: str | Path, at: str, since: str | None, until: str | None) -> None:
    """Refuse a bad moment, day or model before any work.

    Raises
    ------
    UsageError, ModelError
    """
    if at not in ("submission", "review"):
        raise UsageError(f"--at must be review or submission (got {at!r})")
    for value, name in ((since, "--since"), (until, "--until")):
        if value is not None:
            local_day(value, name)
    _detector(str(model_dir), at)


def features_of(data_dir: str | Path, at: str) -> Any:
    """A province's features at ``at`` computed on the cluster, brought back as one ``FeatureFrame``."""
    from features.compute import FeatureFrame

    with prepared(data_dir) as refs:
        frame, gaps = P.moment_frame(gather(P.features_frame(data_dir, (at,), prepared=refs)), at)
    return FeatureFrame(frame=frame, data_gaps=gaps, at=at)


def gather(frame: Any, progress: Progress | None = None) -> pd.DataFrame:
    """A Dask frame brought back here, each partition as soon as it is done.

    ``frame.compute()`` concatenates the partitions on one worker before
    sending them (Dask's final step), so that worker holds the whole result:
    a 1M-dossier training sample killed 3 GB workers. Here each part comes
    over as it finishes and the workers let go of it
    (:func:`_compute_telling`); this process concatenates them in order.
    """
    parts = _compute_telling(frame.to_delayed(), "parts of the features", progress)
    return pd.concat(parts) if parts else frame._meta


def parts_folder(out: Path) -> Path:
    """Where the per-partition files of ``out`` go: ``out`` itself without a suffix, else beside it."""
    return out if not out.suffix else out.with_name(out.name + ".parts")


def write_partitioned(
    frame: dd.DataFrame, out: Path, columns: list[str], progress: Progress | None = None
) -> tuple[Path, int, int]:
    """Write ``frame[columns]`` as one file per partition, and stack them into ``out`` if it is a file.

    Returns
    -------
    (path, rows, flagged)
        The file (or folder) written, and the rows and flags in it.
    """
    import dask

    folder = parts_folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("part-*"):
        stale.unlink()
    suffix = ".parquet" if out.suffix == ".parquet" or not out.suffix else ".csv"
    paths = [folder / f"part-{i:05d}{suffix}" for i in range(frame.npartitions)]

    def write(part: pd.DataFrame, path: Path) -> tuple[int, int]:
        write_table(part[columns], path)
        return len(part), int(part["flagged"].sum()) if "flagged" in part else 0

    tasks = [
        dask.delayed(write)(p, path) for p, path in zip(frame.to_delayed(), paths, strict=True)
    ]
    _say(progress, f"features and scores on the cluster ({len(tasks)} partitions)")
    counts = _compute_telling(tasks, "partitions scored and written", progress)
    rows = sum(c[0] for c in counts)
    flagged = sum(c[1] for c in counts)
    if not out.suffix:
        return folder, rows, flagged
    _say(progress, f"stacking {len(paths)} parts into {out.name}")
    _stack(paths, out)
    return out, rows, flagged


def _compute_telling(tasks: list[Any], what: str, progress: Progress | None) -> list[Any]:
    """Compute ``tasks`` on the cluster, saying how many are done about twenty times along the way.

    A national run takes tens of minutes; the command line shows it moving.
    Results come back in the tasks' order. Each result leaves the workers as
    soon as it is here: held there until the last was done, a 1M training
    sample of a 10M nation (about 2 GB per worker beside the reference
    tables) made both workers restart after an hour.
    """
    from distributed import as_completed, get_client

    futures = get_client().compute(tasks)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    every = max(1, len(futures) // 20)
    for done, future in enumerate(as_completed(futures), start=1):
        results[index[future.key]] = future.result()
        future.release()
        if done % every == 0 or done == len(futures):
            _say(progress, f"{done} of {len(futures)} {what}")
    return results


def _stack(paths: list[Path], out: Path) -> None:
    """The parts, in order, as one file (streamed: one part in memory at a time)."""
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        writer = None
        try:
            for path in paths:
                table = pq.read_table(path)
                if writer is None:
                    writer = pq.ParquetWriter(out, table.schema)
                writer.write_table(table.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()
        return
    with out.open("wb") as sink:
        for i, path in enumerate(paths):
            with path.open("rb") as part:
                header = part.readline()
                if i == 0:
                    sink.write(header)
                while chunk := part.read(1 << 20):
                    sink.write(chunk)


def _partition_sums(part: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One partition's unit × month and officer × month sums (see :func:`detector.batch.unit_report`)."""
    frame = report_frame(
        part["unit_id"], part["submitted_at"], part["channel"], part["received_by"], part
    )
    return report_sums(frame)


def unit_report(
    data_dir: str | Path, model_dir: str | Path, progress: Progress | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The unit × month and officer × month report, summed per partition on the cluster."""
    import dask

    _say(progress, "reading the reference tables once for the workers")
    with prepared(data_dir) as refs:
        scored = scores(data_dir, model_dir, "review", carry=_REPORT_COLUMNS, refs=refs)
        _say(
            progress, f"features, scores and sums on the cluster ({scored.npartitions} partitions)"
        )
        tasks = [dask.delayed(_partition_sums)(p) for p in scored.to_delayed()]
        sums = _compute_telling(tasks, "partitions scored and summed", progress)
    units = pd.concat([s[0] for s in sums]).groupby(level=[0, 1], sort=True).sum()
    officers = pd.concat([s[1] for s in sums]).groupby(level=[0, 1, 2], sort=True).sum()
    return report_tables(units, officers)


def sample_features(
    data_dir: str | Path,
    keep_ids: pd.Index | None,
    sample_rows: int = SAMPLE_ROWS,
    moments: tuple[str, ...] = ("submission", "review"),
    progress: Progress | None = None,
) -> tuple[dict[str, Any], Dataset, int, int]:
    """Features of a sample of the dossiers, computed on the cluster over the whole history.

    The sample: every dossier of ``keep_ids`` (the labelled ones) while they
    number at most ``sample_rows``, and a uniform share of all dossiers (by a
    hash of the ID: the same folder gives the same sample) so that at most
    about ``sample_rows`` come back. The counters see the whole history; only
    the rows brought back are sampled.

    Returns
    -------
    (features, ds, found, dossiers)
        The features per moment (``FeatureFrame``), a :class:`~features.Dataset`
        of the reference tables and the sampled dossiers (in the folder's
        order; what :func:`detector.profile.measure` reads), and how many of
        ``keep_ids`` are in the folder, and the folder's dossiers.
    """
    with prepared(data_dir) as refs:
        return _sample(data_dir, keep_ids, sample_rows, moments, progress, refs)


def _sample(
    data_dir: str | Path,
    keep_ids: pd.Index | None,
    sample_rows: int,
    moments: tuple[str, ...],
    progress: Progress | None,
    refs: Path,
) -> tuple[dict[str, Any], Dataset, int, int]:
    import dask

    from features.compute import FeatureFrame
    from features.reader import Dataset

    d = P.dossiers(data_dir)
    carry = tuple(d.columns)
    # the labelled IDs travel as one sorted array of 64-bit hashes (80 MB for 10M labels), sent
    # to each worker once: as an Index in every task, 10M IDs were ~1 GB per task and the
    # workers were killed for memory
    keep = dask.delayed(_id_hashes(keep_ids if keep_ids is not None else []))
    _say(progress, "counting the dossiers")
    ids = d["dossier_id"]
    n, found = dask.compute(
        d.shape[0], ids.map_partitions(_labelled, keep, meta=("n", "int64")).sum()
    )
    n = int(n)
    share = min(1.0, sample_rows / max(1, n))
    every_kept = keep_ids is not None and len(keep_ids) <= sample_rows
    rows = None
    if share < 1.0:
        # the sample is chosen before the features: the counters still see every dossier, but
        # only the sample's rows are brought back together and finished
        chosen = ids.map_partitions(_chosen_rows, keep, every_kept, share, meta=("row", "int64"))
        rows = dask.delayed(np.sort(chosen.compute().to_numpy(np.int64)))
    feats = P.features_frame(
        data_dir, moments, dossier_frame=d, carry=carry, prepared=refs, rows=rows
    )
    _say(progress, f"features on the cluster; {min(n, sample_rows):,} of {n:,} dossiers come back")
    picked = gather(feats, progress)
    _forget_references()
    out = {}
    for at in moments:
        frame, gaps = P.moment_frame(picked, at)
        out[at] = FeatureFrame(frame=frame, data_gaps=gaps, at=at)
    sampled = pd.DataFrame({c: picked[P.CARRY + c].to_numpy() for c in carry})
    sampled = sampled.astype({c: d._meta[c].dtype for c in carry})
    tables, present = P.references(data_dir, refs)
    tables["dossiers"] = sampled
    empty = pd.DataFrame(columns=["table", "row", "column", "code", "record"])
    ds = Dataset(tables, present, {}, {}, empty, report=None)  # type: ignore[arg-type]
    return out, ds, int(found), n


def _forget_references() -> None:
    """Each worker drops its copy of the reference tables and gives the memory back.

    The fit that follows runs in this process and needs no worker; on a local
    cluster their copies (about 1.6 GB per worker for ten million dossiers)
    would sit beside it on the same machine (the 10M training's peak: 10.35 GB
    for all processes).
    """
    from distributed import get_client

    get_client().run(P.forget_references)


def _id_hashes(ids: Any) -> np.ndarray:
    """Sorted distinct 64-bit hashes of dossier IDs (the same for object and ``str`` columns)."""
    return np.unique(_hashes(pd.Series(pd.Index(ids))))


def _is_labelled(ids: pd.Series, keep: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are among the labelled ones, by hash.

    A wrong answer needs a folder ID and a labelled one to share a 64-bit
    hash: about one chance in 200,000 for ten million of each.
    """
    return P.in_sorted(_hashes(ids), keep)


def _hashes(ids: pd.Series) -> np.ndarray:
    return pd.util.hash_pandas_object(ids, index=False).to_numpy()


def _labelled(ids: pd.Series, keep: np.ndarray) -> pd.Series:
    return pd.Series([int(_is_labelled(ids, keep).sum())], dtype="int64")


def _chosen_rows(ids: pd.Series, keep: np.ndarray, every_kept: bool, share: float) -> pd.Series:
    """The :data:`~features.partitioned.ROW` numbers of the sample's dossiers among ``ids``.

    Every labelled one when ``every_kept``, and a uniform ``share`` by a hash
    of the ID (the same folder gives the same sample).
    """
    h = _hashes(ids)
    ok = (h % 1_000_003) < share * 1_000_003
    if every_kept:
        ok |= P.in_sorted(h, keep)
    return pd.Series(ids.index.to_numpy(np.int64)[ok], dtype="int64")
