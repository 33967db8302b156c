"""``--engine dask`` gives the pandas engine's answers, through the real command line.

Each command starts its own ``LocalCluster`` (two worker processes), except
the ``--scheduler`` test, which points the command at a cluster this test
started. The session's province (20,000 dossiers, 6 months) is small enough
to run both engines and compare their files byte for byte.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_run import run_cli

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


def test_score_is_the_pandas_engines_file_byte_for_byte(
    province_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    data = province_dir / "data"
    for engine in ("pandas", "dask"):
        proc = run_cli("score", data, "--model", model_dir, "--out", tmp_path / f"{engine}.csv",
                       "--details", "--since", "2025-09-01", "--engine", engine)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    parts = sorted((tmp_path / "dask.csv.parts").glob("part-*.csv"))
    assert len(parts) >= 1
    stacked = pd.concat([pd.read_csv(p, dtype=str) for p in parts])
    assert len(stacked) == len(pd.read_csv(tmp_path / "pandas.csv", dtype=str))
    assert "parts:" in proc.stdout and "INFO" not in proc.stderr


def test_score_into_a_folder_writes_parts_only(
    province_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores"
    proc = run_cli("score", province_dir / "data", "--model", model_dir, "--out", out,
                   "--engine", "dask", "--workers", "1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    files = sorted(out.glob("part-*.parquet"))
    assert files and not (tmp_path / "scores.parts").exists()
    scores = pd.concat([pd.read_parquet(f) for f in files])
    assert list(scores.columns) == ["dossier_id", "risk_score", "proxy_type", "flagged", "reasons"]
    assert scores["dossier_id"].is_unique


def test_report_is_the_pandas_engines_report(
    province_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    for engine in ("pandas", "dask"):
        proc = run_cli("report", province_dir / "data", "--model", model_dir,
                       "--out", tmp_path / f"{engine}.csv", "--engine", engine)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    for name in ("{}.csv", "{}_officers.csv"):
        a = pd.read_csv(tmp_path / name.format("dask"))
        b = pd.read_csv(tmp_path / name.format("pandas"))
        pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-4)


def test_train_on_a_cluster_gives_the_same_detector_when_the_sample_is_everything(
    province_dir: Path, model_dir: Path, partial_labels: Path, tmp_path: Path
) -> None:
    data = province_dir / "data"
    proc = run_cli("train", data, "--labels", partial_labels, "--out", tmp_path / "m",
                   "--engine", "dask")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    assert card["training"]["engine"] == "dask"
    assert card["training"]["sampled_dossiers"] == card["training"]["dossiers"]
    for model, name in ((model_dir, "a.csv"), (tmp_path / "m", "b.csv")):
        proc = run_cli("score", data, "--model", model, "--out", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_train_on_a_sample_says_so_on_the_card(
    province_dir: Path, partial_labels: Path, tmp_path: Path
) -> None:
    proc = run_cli("train", province_dir / "data", "--labels", partial_labels,
                   "--out", tmp_path / "m", "--engine", "dask", "--sample-rows", "8000")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    training = json.loads((tmp_path / "m" / "model_card.json").read_text())["training"]
    assert training["dossiers"] > 19_000 > training["sampled_dossiers"]
    assert 6_000 < training["sampled_dossiers"] < 10_000


@pytest.fixture
def running_cluster() -> Iterator[tuple[Any, Any]]:
    """A one-worker cluster this test started, and a client of it: ``(cluster, client)``."""
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster, client


def test_a_running_scheduler_is_used(
    province_dir: Path, model_dir: Path, tmp_path: Path, running_cluster: tuple[Any, Any]
) -> None:
    cluster, client = running_cluster
    proc = run_cli("score", province_dir / "data", "--model", model_dir, "--out",
                   tmp_path / "s.csv", "--engine", "dask", "--scheduler", cluster.scheduler_address)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.task_prefixes)) > 0


def test_training_leaves_no_reference_tables_on_the_workers(
    province_dir: Path, partial_labels: Path, tmp_path: Path, running_cluster: tuple[Any, Any]
) -> None:
    """The fit runs in the command's process: the workers' copies of the reference tables go
    before it (on one machine they would sit beside the fit)."""
    from features import partitioned

    cluster, client = running_cluster

    def held() -> list[int]:
        return list(client.run(lambda: partitioned._references.cache_info().currsize).values())

    proc = run_cli("train", province_dir / "data", "--labels", partial_labels, "--out",
                   tmp_path / "m", "--engine", "dask", "--scheduler", cluster.scheduler_address,
                   "--sample-rows", "8000")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert held() == [0]
    client.run(lambda: partitioned.references(province_dir / "data"))
    assert held() == [1]  # the same probe sees tables a worker still holds


def test_evaluate_on_a_cluster_gives_the_same_metrics(province_dir: Path, tmp_path: Path) -> None:
    data, labels = province_dir / "data", province_dir / "labels.csv"
    for engine in ("pandas", "dask"):
        proc = run_cli("evaluate", data, "--labels", labels, "--out", tmp_path / engine,
                       "--holdout-months", "2", "--engine", engine)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    a = json.loads((tmp_path / "dask" / "metrics.json").read_text())
    b = json.loads((tmp_path / "pandas" / "metrics.json").read_text())
    assert a["methods"] == b["methods"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--engine", "spark"], "--engine must be pandas or dask"),
        (["--workers", "2"], "go with --engine dask"),
        (["--engine", "dask", "--scheduler", "tcp://127.0.0.1:1"], "no Dask scheduler answered"),
        (["--engine", "dask", "--to-db"], "--to-db loads cases from one process"),
        (["--engine", "dask", "--since", "yesterday"], "--since must be a date"),
        (["--engine", "dask", "--memory-limit", "lots"], "--memory-limit must be a size"),
    ],
)
def test_engine_options_fail_clearly(
    province_dir: Path, model_dir: Path, tmp_path: Path, args: list[str], says: str
) -> None:
    env = {**os.environ, "DETECTOR_DASK_TIMEOUT": "3s"}
    proc = run_cli("score", province_dir / "data", "--model", model_dir, "--out",
                   tmp_path / "s.csv", *args, timeout=120, env=env)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr.replace("\n", " ")


def test_workers_hold_dask_dataframe_before_any_task() -> None:
    # a worker that first meets dask.dataframe in a message while a task imports it can fail
    # ("partially initialized module", dask/distributed 8759): the engine imports it first
    import sys

    from detector.dask_engine import cluster

    def imported() -> bool:
        return "dask.dataframe" in sys.modules

    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        distributed.Client(local) as bare,
    ):
        assert not any(bare.run(imported).values())  # a plain worker does not have it
        with cluster(scheduler=local.scheduler_address) as client:
            assert all(client.run(imported).values())
    with cluster(workers=1) as client:
        assert all(client.run(imported).values())


def test_labelled_ids_are_found_by_hash_in_any_text_column() -> None:
    from detector.dask_engine import _id_hashes, _is_labelled

    keep = _id_hashes(pd.Index(["H1", "H2", "H2", "H9"]))
    assert len(keep) == 3
    for dtype in (object, "str"):
        ids = pd.Series(["H2", "H3", "H1", "H10"], dtype=dtype)
        assert _is_labelled(ids, keep).tolist() == [True, False, True, False]
    assert not _is_labelled(pd.Series(["H1"], dtype="str"), _id_hashes([])).any()


def test_a_killed_worker_is_one_line_that_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # what 10M training on 3.5 GB workers met: the scheduler gives up on a task that kills workers
    from distributed.scheduler import KilledWorker

    from detector import batch, cli

    def dies(*args: object, **kwargs: object) -> None:
        raise KilledWorker(task="isin-1", last_worker="tcp://127.0.0.1:1", allowed_failures=3)

    monkeypatch.setattr(batch, "train", dies)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with pytest.raises(SystemExit) as stop:
        cli.main(["train", str(tmp_path), "--labels", str(tmp_path / "l.csv"), "--out",
                  str(tmp_path / "m"), "--engine", "dask"])  # fmt: skip
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "--memory-limit" in err and "memory" in err and "detector-crash-" in err
