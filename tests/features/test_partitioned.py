"""The partitioned engine (features/partitioned.py) gives the batch's features, on a real LocalCluster.

One province, split into many partitions, computed both ways: every feature
of the registry, at both moments, and the data gaps agree (to 1e-9; the
parametrised test names the feature that does not). Parts with the same
dossier twice and ties in time are read and counted as in one process.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import partitioned as P
from features import read_dataset
from features.compute import FeatureFrame, compute_all
from features.defs import feature_names

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """A real local cluster: two worker processes, one thread each."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def every_row(province_dir: Path, client: object) -> pd.DataFrame:
    """The partitioned engine's frame of the session's province, in 7 partitions."""
    parts = P.features_frame(province_dir / "data", rows_per_partition=3_000)
    assert parts.npartitions >= 6
    return parts.compute()


@pytest.fixture(scope="module")
def both_ways(
    province_dir: Path, every_row: pd.DataFrame
) -> dict[str, tuple[FeatureFrame, FeatureFrame]]:
    """Per moment: (batch, partitioned) features of the session's province, in 7 partitions."""
    folder = province_dir / "data"
    ds = read_dataset(folder)
    batch = compute_all(ds.tables, ds.present)
    out = {}
    for at in ("submission", "review"):
        frame, gaps = P.moment_frame(every_row, at)
        out[at] = (batch[at], FeatureFrame(frame=frame, data_gaps=gaps, at=at))
    return out


def _same(a: pd.Series, b: pd.Series) -> bool:
    if isinstance(a.dtype, pd.CategoricalDtype) or isinstance(b.dtype, pd.CategoricalDtype):
        return bool((a.astype(object).fillna("-") == b.astype(object).fillna("-")).all())
    return bool(
        np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=0, atol=1e-9, equal_nan=True)
    )


@pytest.mark.parametrize("at", ["submission", "review"])
def test_same_dossiers_in_the_same_order(
    both_ways: dict[str, tuple[FeatureFrame, FeatureFrame]], at: str
) -> None:
    batch, parts = both_ways[at]
    assert list(parts.frame.columns) == feature_names(at)
    assert parts.frame.index.equals(batch.frame.index)
    assert (parts.data_gaps.fillna("") == batch.data_gaps.fillna("")).all()


@pytest.mark.parametrize("name", feature_names("review"))
def test_every_feature_agrees(
    both_ways: dict[str, tuple[FeatureFrame, FeatureFrame]], name: str
) -> None:
    for at in ("submission", "review"):
        if name not in feature_names(at):
            continue
        batch, parts = both_ways[at]
        assert _same(parts.frame[name], batch.frame[name]), f"{name} differs at {at}"


def test_asking_for_some_rows_gives_exactly_those_rows_of_the_whole_history(
    province_dir: Path, every_row: pd.DataFrame
) -> None:
    """A training sample: the counters see every dossier; only the rows asked for come out."""
    import dask

    asked = every_row.index.to_numpy()[::7]
    beyond = every_row.index.max() + 1  # a row the folder does not have
    rows = np.sort(np.concatenate([asked, [beyond]]))
    some = P.features_frame(
        province_dir / "data", rows_per_partition=3_000, rows=dask.delayed(rows)
    )
    got = some.compute()
    pd.testing.assert_frame_equal(got, every_row.loc[asked])
    assert len(got) < len(every_row) / 6


def _as_parts(folder: Path, out: Path) -> Path:
    """``folder`` with its dossiers as three part files; the third repeats two dossiers."""
    shutil.copytree(folder, out)
    d = pd.read_csv(out / "dossiers.csv", dtype=str, keep_default_na=False)
    (out / "dossiers.csv").unlink()
    (out / "dossiers").mkdir()
    third = len(d) // 3
    chunks = [d.iloc[:third], d.iloc[third : 2 * third], d.iloc[2 * third :]]
    again = d.iloc[[5, third + 7]].copy()
    again.loc[:, "channel"] = "postal"  # same ID, other content: the first row wins
    chunks[2] = pd.concat([again, chunks[2]])
    # a tie: a later dossier of the same account at the same second as an earlier one
    tie = d.iloc[[10]].copy()
    tie.loc[:, "dossier_id"] = tie["dossier_id"].str[:-1] + "X"
    chunks[1] = pd.concat([chunks[1].iloc[:1], tie, chunks[1].iloc[1:]])
    for i, chunk in enumerate(chunks):
        chunk.to_csv(out / "dossiers" / f"part-{i}.csv", index=False)
    return out


def test_parts_with_repeats_and_ties_read_and_count_as_one_process(
    province_dir: Path, tmp_path: Path, client: object
) -> None:
    folder = _as_parts(province_dir / "data", tmp_path / "data")
    ds = read_dataset(folder)
    d = P.dossiers(folder).compute()
    assert d["dossier_id"].tolist() == ds.tables["dossiers"]["dossier_id"].tolist()
    one = ds.tables["dossiers"]["channel"].fillna("-").to_numpy()
    assert (d["channel"].fillna("-").to_numpy() == one).all()
    batch = compute_all(ds.tables, ds.present, ("submission",))["submission"]
    frame, _gaps = P.moment_frame(P.features_frame(folder, ("submission",)).compute(), "submission")
    bad = [n for n in frame.columns if not _same(frame[n], batch.frame[n])]
    assert bad == []


def test_a_missing_dossiers_table_is_a_clear_error(tmp_path: Path) -> None:
    from features.errors import ContractError

    tmp_path.joinpath("people.csv").write_text("person_id\n")
    with pytest.raises(ContractError, match="dossiers"):
        P.dossier_files(tmp_path)
