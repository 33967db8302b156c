"""The registry's frame computations on a partitioned history (Dask), for a nation.

The same declarations as the batch (:mod:`features.compute`), run per
partition so that no machine holds the whole history:

1. **per dossier** — any split of the dossiers (one partition per part file,
   e.g. a province and month): the per-dossier features, the counters' event
   flags and keys, and the data gaps, with the reference tables (people,
   accounts, units, ...) read once by each worker (:func:`references`);
2. **per key** — for each key a counter groups by (account, device, phone,
   owner, ...), the events are shuffled by that key, so every dossier sharing
   it lies in one partition; the counters keyed by it, and the features
   declared ``by`` it (:attr:`features.defs.Feature.by`), run there;
3. **realigned** — each key's results are shuffled back onto the dossiers'
   partitions by row number (:data:`ROW`, the dossier's place in the folder's
   read order) and joined; the derived ratios and the moments' columns follow
   per partition.

Nothing names a feature here: the steps loop over the registry, as
:func:`features.compute.compute_all` does, and give the same values (the
equality test ``tests/features/test_partitioned.py`` runs both on a
``LocalCluster``). Counters break ties between events at the same second by
their place in the folder; each key partition is put back in :data:`ROW`
order before counting, so ties fall the same way as in one process.

A dossier whose key is missing is left out of that key's shuffle: it counts
for nothing and its counters are NaN (:mod:`features.pit`), which the left
join gives back. That keeps a common missing key (desk dossiers have no
device) from piling into one partition.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features._files import locate, parts, read_table_file
from features._private import empty_frame
from features.compute import FrameInputs, data_gaps, event_frame, on_frame
from features.contract import DOSSIERS, TABLES
from features.defs import (
    CATEGORIES,
    COUNTERS,
    HISTORY,
    REVIEW,
    REVIEW_COUNTERS,
    STATIC,
    derive,
    feature_names,
)
from features.links import holder_links
from features.normalise import normalise_table
from features.pit import Counter, SortedRows, compute_counters, encode_keys, seconds
from features.reader import _folder, _missing_table, read_dataset, set_aside

if TYPE_CHECKING:
    import dask.dataframe as dd

#: the dossier's place in the folder's read order: part number * PART + record number
ROW = "_row"
#: room for the records of one part in :data:`ROW`
PART = 2**32
#: the submission time in int64 seconds, as the counters read it
T = "_t"
#: prefixes of the columns a feature declared ``by`` a key reads (dossier fields, holder links)
_D, _L = "d:", "l:"
#: prefix of the dossier columns carried through to the output (``carry=``)
CARRY = "c:"


def _configure_dask() -> None:
    """Keep pandas' own string type: Dask would turn text into ``string[pyarrow]`` (missing =
    ``pd.NA``), under which the registry's comparisons give ``NA`` where pandas gives ``False``."""
    import dask

    dask.config.set({"dataframe.convert-string": False})


def gaps_column(at: str) -> str:
    """The column of a moment's data gaps in the feature frame of :func:`features_frame`."""
    return f"_gaps@{at}"


def _suffix(at: str) -> str:
    """How a moment's feature columns are named in :func:`finish`'s frame (review: ``@review``)."""
    return "" if at == "submission" else "@review"


def _review_name(name: str) -> str:
    return name + _suffix("review")


# ----------------------------------------------------------------------------- reading


def _stamp(folder: Path) -> str:
    """A name for the state of the folder's reference files (their paths, sizes and times)."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.relative_to(folder).parts[0].lower().startswith("dossiers"):
            st = p.stat()
            h.update(f"{p.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=2)
def _references(
    folder: str, stamp: str, prepared: str | None
) -> tuple[dict[str, pd.DataFrame], frozenset]:
    if prepared is not None and (Path(prepared) / "present.txt").is_file():
        where = Path(prepared)
        present = frozenset((where / "present.txt").read_text().split())
        tables = {n: pd.read_pickle(where / f"{n}.pkl") for n in TABLES if n != "dossiers"}
    else:
        tables, present = _read_references(folder)
    _release_memory()  # once per read, not per partition
    return tables, present


def _read_references(folder: str | Path) -> tuple[dict[str, pd.DataFrame], frozenset[str]]:
    """Every table but the dossiers, read and checked as :func:`read_dataset` does."""
    ds = read_dataset(folder, tables=[n for n in TABLES if n != "dossiers"])
    return ds.tables, ds.present | {"dossiers"}


def references(
    folder: str | Path, prepared: str | Path | None = None
) -> tuple[dict[str, pd.DataFrame], frozenset[str]]:
    """The folder's reference tables (every table but the dossiers), read once per process.

    From ``prepared`` (:func:`prepare_references`) when it holds them: a
    worker then loads pickles in seconds, instead of reading and checking
    millions of people again. Else each worker reads them from the folder (a
    cluster's workers share the storage the parts are read from). The cache
    is keyed on the files' sizes and times, so a rewritten folder is read again.
    """
    folder = Path(folder)
    tables, present = _references(
        str(folder), _stamp(folder), None if prepared is None else str(prepared)
    )
    return dict(tables), present


def prepare_references(folder: str | Path, under: str | Path) -> Path:
    """Read the folder's reference tables once, here, and keep them where the workers load them.

    ``under/references-<stamp>/``: one pickle per table (an exact copy of the
    normalised frames) and ``present.txt``. A folder prepared earlier for the
    same files is reused. On a cluster, ``under`` must be storage every
    worker reads (``DETECTOR_DASK_DIR``); a worker that does not find it
    reads the folder itself.
    """
    folder = Path(folder)
    where = Path(under) / f"references-{_stamp(folder)}"
    if (where / "present.txt").is_file():
        return where
    tables, present = _read_references(folder)
    partial = where.with_name(where.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if name != "dossiers":
            frame.to_pickle(partial / f"{name}.pkl")
    (partial / "present.txt").write_text(" ".join(sorted(present)))
    del tables
    _release_memory()
    partial.rename(where)
    return where


def forget_references() -> None:
    """Drop this process's reference tables read by :func:`references` and give the memory back."""
    _references.cache_clear()
    _release_memory()


def _release_memory() -> None:
    """Give freed heap back to the system after reading (glibc keeps it otherwise)."""
    import contextlib
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError):  # not glibc: the process reuses the memory instead
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def for_partition(tables: dict[str, pd.DataFrame], d: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The reference rows one partition of dossiers can reach, by the contract's keys.

    The accounts its dossiers filed through; the people who own them or hold
    those accounts; the relations, mandates, businesses and desk visits of
    those people (a two-step kinship holder - m - owner uses two relations,
    each touching one of them). Units and staff are small and whole. Every
    lookup of the registry reads rows by these keys only, so the features are
    those of the whole tables, in a fraction of the time. A table that
    filters to nothing keeps one row of its own, so that "the table is
    empty" still means the export had none.
    """
    accounts = tables["accounts"]
    acc = accounts[accounts["account_id"].isin(d["account_id"].dropna().unique())]
    persons = pd.Index(pd.concat([d["owner_id"], acc["holder_id"]]).dropna().unique())
    keep = {
        "accounts": acc,
        "people": tables["people"][tables["people"]["person_id"].isin(persons)],
        "relations": _touching(tables["relations"], ("person_id", "related_id"), persons),
        "authorizations": tables["authorizations"][
            tables["authorizations"]["grantor_id"].isin(persons)
            | tables["authorizations"]["grantee_id"].isin(persons)
            | tables["authorizations"]["authorization_id"].isin(d["authorization_id"].dropna())
        ],
        "businesses": tables["businesses"][tables["businesses"]["business_id"].isin(persons)],
        "counter_visits": _touching(tables["counter_visits"], ("person_id",), persons),
    }
    out = dict(tables)
    for name, rows in keep.items():
        whole = tables[name]
        out[name] = rows if len(rows) or whole.empty else whole.iloc[:1]
    return out


def _touching(frame: pd.DataFrame, columns: tuple[str, ...], persons: pd.Index) -> pd.DataFrame:
    mask = np.zeros(len(frame), bool)
    for col in columns:
        mask |= frame[col].isin(persons).to_numpy()
    return frame[mask]


def dossier_files(folder: str | Path) -> list[Path]:
    """The dossiers table's files: its parts in name order, or the one file.

    Raises
    ------
    ContractError
        The folder has no dossiers table.
    """
    folder = _folder(folder)
    path = locate(folder, "dossiers")
    if path is None:
        raise _missing_table(folder, "dossiers")
    return parts(path) if path.is_dir() else [path]


def read_part(path: Path, number: int) -> pd.DataFrame:
    """One file of the dossiers, normalised and cleaned as :func:`read_dataset` does, on :data:`ROW`.

    Rows that cannot be used are set aside and duplicates within the file
    merged (:func:`features.reader.set_aside`); duplicates across files are
    settled by :func:`dossiers` (the first in read order wins, as in one
    process). ``detector validate`` reports what was set aside.
    """
    raw = read_table_file(path, DOSSIERS)
    frame, _issues = normalise_table(raw.frame, DOSSIERS)
    kept = set_aside(frame, DOSSIERS)[0]
    kept.index = pd.Index(kept.index.to_numpy(np.int64) + number * PART, name=ROW)
    return kept


def _meta() -> pd.DataFrame:
    meta = empty_frame(DOSSIERS)
    meta.index = pd.Index([], dtype=np.int64, name=ROW)
    return meta


def dossiers(folder: str | Path, rows_per_partition: int = 250_000) -> dd.DataFrame:
    """The folder's dossiers as a Dask frame on :data:`ROW`, one partition per part file.

    A single file (a province) is read in this process and split into
    partitions of ``rows_per_partition``; a folder of parts is read lazily,
    each part by the worker that processes it.
    """
    import dask
    import dask.dataframe as dd

    _configure_dask()
    files = dossier_files(folder)
    if len(files) == 1:
        one = read_part(files[0], 0)
        return dd.from_pandas(one, chunksize=max(1, rows_per_partition), sort=True)
    pieces = [dask.delayed(read_part)(f, i) for i, f in enumerate(files)]
    divisions = (*(i * PART for i in range(len(files))), len(files) * PART - 1)
    frame = dd.from_delayed(pieces, meta=_meta(), divisions=divisions, verify_meta=False)
    return _first_of_each_id(frame)


def _repeated(part: pd.DataFrame) -> pd.DataFrame:
    return part[part["dossier_id"].duplicated(keep=False).to_numpy()]


def _first_of_each_id(frame: dd.DataFrame) -> dd.DataFrame:
    """Drop a dossier ID's later rows across parts: the first in read order wins (as in one process)."""
    ids = frame[["dossier_id"]].reset_index().shuffle(on="dossier_id")
    repeats = ids.map_partitions(_repeated, meta=ids._meta)
    rows = repeats.compute()  # small: only the rows whose ID repeats come back
    if not len(rows):
        return frame
    rows = rows.sort_values(ROW)
    later = rows[ROW][rows["dossier_id"].duplicated(keep="first")].to_numpy()
    drop = pd.Index(later)
    return frame.map_partitions(lambda p: p[~p.index.isin(drop)], meta=frame._meta)


# ----------------------------------------------------------------------------- step 1


def _by_keys(moments: Iterable[str]) -> dict[str, list[Any]]:
    """The features computed per key (``by``), by key, for the moments asked."""
    wanted = [f for f in (*STATIC, *REVIEW) if f.by is not None]
    if "review" not in moments:
        wanted = [f for f in wanted if f.moment == "submission"]
    out: dict[str, list[Any]] = {}
    for f in wanted:
        if f.by is not None:
            out.setdefault(f.by, []).append(f)
    return out


def _counters(moments: Iterable[str]) -> dict[str, list[tuple[Counter, bool]]]:
    """Counters by key, each with whether it looks after the dossier (review)."""
    out: dict[str, list[tuple[Counter, bool]]] = {}
    for c in COUNTERS:
        out.setdefault(c.key, []).append((c, False))
    if "review" in moments:
        for c in REVIEW_COUNTERS:
            out.setdefault(c.key, []).append((c, True))
    return out


def per_dossier(
    d: pd.DataFrame,
    folder: str,
    moments: tuple[str, ...],
    refs: tuple[dict[str, pd.DataFrame], frozenset[str]] | None = None,
    carry: tuple[str, ...] = (),
    prepared: str | None = None,
) -> pd.DataFrame:
    """Step 1 on one partition of dossiers: every computation that reads one dossier at a time.

    The same order as :func:`features.compute.compute_all`; ``refs`` (the
    reference tables and what is present) default to :func:`references` of
    ``folder``.
    """
    tables, present = refs if refs is not None else references(folder, prepared)
    row = d.index.to_numpy(np.int64)
    d = d.reset_index(drop=True)
    tables = for_partition(tables, d)
    tables["dossiers"] = d
    b = FrameInputs(d, holder_links(tables, present), None, tables, present)
    for feature in STATIC:
        if feature.by is None:
            b.f[feature.name] = on_frame(feature, b)
    events = event_frame(b.d, b.links, b.f)
    columns: dict[str, Any] = {"dossier_id": d["dossier_id"], T: seconds(d["submitted_at"])}
    columns.update({c: b.f[c] for c in b.f.columns})
    columns.update({c: events[c] for c in events.columns})
    if "submission" in moments:
        columns[gaps_column("submission")] = data_gaps(b)
    if "review" in moments:
        b.f = b.f.copy()
        b.at = "review"
        for feature in STATIC:
            if feature.review_sees_more and feature.by is None:
                b.f[feature.name] = columns[_review_name(feature.name)] = on_frame(feature, b)
        for feature in REVIEW:
            if feature.counter is None and feature.by is None:
                b.f[feature.name] = columns[feature.name] = on_frame(feature, b)
        columns[gaps_column("review")] = data_gaps(b)
    if _by_keys(moments):
        columns.update({_D + c: d[c] for c in d.columns})
        columns.update({_L + c: b.links[c] for c in b.links.columns})
    columns.update({CARRY + c: d[c] for c in carry})
    out = pd.DataFrame(columns, index=d.index)
    out.index = pd.Index(row, name=ROW)
    return out


def _empty_refs() -> tuple[dict[str, pd.DataFrame], frozenset[str]]:
    """Empty reference tables, every one present: for the frames' types (Dask's ``meta``)."""
    return {n: empty_frame(t) for n, t in TABLES.items()}, frozenset(TABLES)


# ----------------------------------------------------------------------------- step 2


def per_key(
    part: pd.DataFrame,
    key: str,
    folder: str,
    moments: tuple[str, ...],
    refs: tuple[dict[str, pd.DataFrame], frozenset[str]] | None = None,
    prepared: str | None = None,
) -> pd.DataFrame:
    """Step 2 on one partition of a key's shuffle: the counters keyed by it and the features ``by`` it.

    ``part`` holds every dossier with a given set of key values (in any
    order); it is put back in :data:`ROW` order first, so that ties fall as in
    one process.
    """
    part = part.sort_values(ROW, kind="stable").reset_index(drop=True)
    t = part[T].to_numpy(np.int64)
    out = pd.DataFrame(index=part.index)
    counters = _counters(moments).get(key, [])
    keyed = encode_keys(part, (c for c, _ in counters))
    rows = SortedRows(keyed, t)
    for after in (False, True):
        mine = [c for c, a in counters if a == after]
        counted = compute_counters(keyed, mine, t, after=after, rows=rows)
        for name, values in counted.items():
            out[name] = values
    by = _by_keys(moments).get(key, [])
    if by:
        tables, present = refs if refs is not None else references(folder, prepared)
        tables = {**tables}
        d = pd.DataFrame({c[len(_D) :]: part[c] for c in part.columns if c.startswith(_D)})
        links = pd.DataFrame({c[len(_L) :]: part[c] for c in part.columns if c.startswith(_L)})
        tables["dossiers"] = d
        b = FrameInputs(d, links, None, tables, present, at="review")
        for feature in by:
            b.at = feature.moment
            out[feature.name] = on_frame(feature, b).to_numpy()
    out.index = pd.Index(part[ROW].to_numpy(np.int64), name=ROW)
    return out


def _key_events(part: pd.DataFrame, key: str, cols: list[str]) -> pd.DataFrame:
    """The columns a key's step reads, for the dossiers whose key is known."""
    events = part.reset_index()[cols]
    return events[events[key].notna().to_numpy()]


def _key_columns(key: str, moments: tuple[str, ...], columns: Iterable[str]) -> list[str]:
    cols: list[str | None] = [ROW, T, key]
    for counter, _after in _counters(moments).get(key, []):
        cols += [getattr(counter, "other", None), getattr(counter, "where", None)]
    if key in _by_keys(moments):
        cols += [c for c in columns if c.startswith((_D, _L))]
    return list(dict.fromkeys(c for c in cols if c is not None))


# ----------------------------------------------------------------------------- step 3


def finish(
    part: pd.DataFrame, moments: tuple[str, ...], carry: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Step 3 on one realigned partition: derived ratios and the moments' columns.

    Columns: ``dossier_id``, :data:`T`, then for each moment its features
    (``<name>`` at submission, ``<name>@review`` at review) and its data gaps
    (:func:`gaps_column`).
    """
    out = {"dossier_id": part["dossier_id"], T: part[T]}
    for at in moments:
        f = pd.DataFrame(index=part.index)
        for feature in (*STATIC, *HISTORY):
            name = feature.name
            review_col = _review_name(name)
            f[name] = part[review_col] if at == "review" and review_col in part else part[name]
        derive(f)
        if at == "review":
            for feature in REVIEW:
                f[feature.name] = part[feature.name]
        f = f[feature_names(at)]
        for col, cats in CATEGORIES.items():
            f[col] = pd.Categorical(f[col], categories=list(cats))
        for col in f.columns:
            out[col + _suffix(at)] = f[col]
        out[gaps_column(at)] = part[gaps_column(at)]
    for col in carry:
        out[CARRY + col] = part[CARRY + col]
    return pd.DataFrame(out, index=part.index)


def moment_frame(part: pd.DataFrame, at: str) -> tuple[pd.DataFrame, pd.Series]:
    """One moment's features (on ``dossier_id``, the model's columns) and data gaps, from :func:`finish`."""
    f = part[[n + _suffix(at) for n in feature_names(at)]]
    f.columns = feature_names(at)
    index = pd.Index(part["dossier_id"].to_numpy(), name="dossier_id")
    f.index = index
    gaps = pd.Series(part[gaps_column(at)].to_numpy(), index=index)
    return f, gaps


def features_frame(
    folder: str | Path,
    moments: tuple[str, ...] = ("submission", "review"),
    rows_per_partition: int = 250_000,
    dossier_frame: dd.DataFrame | None = None,
    carry: tuple[str, ...] = (),
    prepared: str | Path | None = None,
    rows: Any = None,
) -> dd.DataFrame:
    """Every dossier's features for ``moments``, as a lazy Dask frame on :data:`ROW`.

    Parameters
    ----------
    folder : the data folder (each worker reads its reference tables and the
        dossiers' part files from it).
    moments : ``"submission"``, ``"review"`` or both.
    rows_per_partition : the partition size when the dossiers are one file.
    dossier_frame : the dossiers, if already read (:func:`dossiers`).
    carry : dossier columns to carry through, as ``c:<column>`` (:data:`CARRY`).
    prepared : the reference tables prepared for the workers
        (:func:`prepare_references`); ``None``: each worker reads the folder.
    rows : only these dossiers come out: a sorted ``int64`` array of
        :data:`ROW` numbers (or a ``dask.delayed`` of one). The counters still
        see every dossier; only the keys' results go back to fewer rows (a
        training sample of a tenth of the folder moves a tenth of the data
        back). ``None``: every dossier.

    Returns
    -------
    A Dask frame whose partitions are :func:`finish` frames: run the scorer
    on each (``map_partitions``) or compute what is needed.
    """

    _configure_dask()
    moments = tuple(m for m in ("submission", "review") if m in moments)
    if not moments:
        raise ValueError("moments: give submission, review or both")
    folder_s = str(folder)
    d = dossier_frame if dossier_frame is not None else dossiers(folder, rows_per_partition)
    meta = per_dossier(_meta(), folder_s, moments, _empty_refs(), carry)
    ready = None if prepared is None else str(prepared)
    base = d.map_partitions(per_dossier, folder_s, moments, None, carry, ready, meta=meta)
    divisions = base.divisions
    keys = list(dict.fromkeys([*_counters(moments), *_by_keys(moments)]))
    # the dossier fields and holder links ride only to the shuffles of the ``by`` keys
    joined = base[[c for c in base.columns if not c.startswith((_D, _L))]]
    if rows is not None:
        joined = joined.map_partitions(_only, rows, meta=joined._meta)
    for key in keys:
        cols = _key_columns(key, moments, base.columns)
        events = base.map_partitions(
            _key_events, key, cols, meta=_key_events(base._meta, key, cols)
        )
        shuffled = events.shuffle(on=key)
        meta = per_key(_as_meta(events._meta), key, folder_s, moments, _empty_refs())
        result = shuffled.map_partitions(per_key, key, folder_s, moments, None, ready, meta=meta)
        if rows is not None:
            result = result.map_partitions(_only, rows, meta=result._meta)
        aligned = result.reset_index().set_index(ROW, divisions=list(divisions))
        joined = joined.join(aligned, how="left")
    meta_out = finish(_as_meta(joined._meta), moments, carry)
    return joined.map_partitions(finish, moments, carry, meta=meta_out)


def in_sorted(values: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in ``sorted_values`` (sorted ascending), by binary search."""
    if not len(sorted_values):
        return np.zeros(len(values), bool)
    pos = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return np.asarray(sorted_values[pos] == values)


def _only(part: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The rows of ``part`` whose :data:`ROW` number is in the sorted array ``rows``."""
    return part[in_sorted(part.index.to_numpy(np.int64), rows)]


def _as_meta(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[:0]


def default_workers() -> int:
    """Workers of a local cluster: one per core."""
    return max(1, os.cpu_count() or 1)
