"""Simulate a province and write it to disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.contract import PROXY_TYPES, TABLES

from .assemble import Province, generate
from .build import build_world
from .config import SimConfig
from .dirt import dirty
from .tables import contract_tables

Progress = Callable[[str], None]


def simulate(cfg: SimConfig, progress: Progress | None = None) -> Province:
    """Build a province in memory.

    Parameters
    ----------
    cfg : what to simulate; the same settings always give the same province.
    progress : called with a short description as each stage starts.

    Returns
    -------
    Province with the contract's tables (as strings, as an export would be),
    the labels and the finer scenario of every dossier, and its brokers with
    the dossiers each filed (kept out of the files; :mod:`.nation` uses them).

    Raises
    ------
    UsageError
        When the settings cannot produce a province.

    Notes
    -----
    Vectorised throughout: time is linear in ``cfg.dossiers`` (about a minute
    for a million dossiers on two cores, see ``bench/``).
    """
    cfg.check()
    say = progress or (lambda _msg: None)
    rng = np.random.default_rng(cfg.seed)
    say("people, households, units and accounts")
    world = build_world(cfg, rng)
    say("dossiers")
    d, filed = generate(cfg, rng, world)
    say("tables")
    tables, truth, brokers = contract_tables(world, rng, d, filed)
    say("export dirt")
    dirt_counts = dirty(tables, rng, cfg.dirt)
    for name in cfg.absent_tables:  # an export without the table at all
        del tables[name]
    labels = truth[["dossier_id", "proxy_type"]]
    shares = (
        labels["proxy_type"].value_counts(normalize=True).reindex(list(PROXY_TYPES), fill_value=0.0)
    )
    online = (
        tables["dossiers"]
        .drop_duplicates("dossier_id")["channel"]
        .str.strip()
        .str.lower()
        .eq("online")
        .mean()
    )
    manifest: dict[str, object] = {
        "generator": "detector simulate",
        "seed": cfg.seed,
        "dossiers": len(truth),
        "months": cfg.months,
        "start": cfg.start,
        "dirt": cfg.dirt,
        "proxy_type_share": {k: round(float(v), 5) for k, v in shares.items()},
        "scenario_counts": {
            k: int(v) for k, v in truth["scenario"].value_counts().sort_index().items()
        },
        "claimed_online_share": round(float(online), 4),
        "rows": {k: len(v) for k, v in tables.items()},
        "dirt_counts": dirt_counts,
    }
    return Province(
        tables=tables,
        labels=labels,
        scenarios=truth[["dossier_id", "scenario"]],
        manifest=manifest,
        broker_dossiers=truth.loc[truth["broker"] >= 0, ["dossier_id", "broker"]],
        brokers=brokers,
    )


def _as_text(df: pd.DataFrame) -> pa.Table:
    """``df`` as an Arrow table of strings (empty cells null), as an export is."""
    return pa.Table.from_pandas(
        df.astype(object).where(df.notna(), None),
        preserve_index=False,
        schema=pa.schema([(c, pa.string()) for c in df.columns]),
    )


def _write_table(df: pd.DataFrame, path: Path, fmt: str) -> None:
    table = _as_text(df)
    if fmt == "parquet":
        pq.write_table(table, path.with_suffix(".parquet"), compression="zstd")
    else:
        pacsv.write_csv(table, path.with_suffix(".csv"), pacsv.WriteOptions(quoting_style="needed"))


def _write_parts(df: pd.DataFrame, folder: Path, fmt: str, prefix: str = "") -> None:
    """``df`` (the dossiers) as one file per submission month in ``folder`` (``2025-07.parquet``).

    Rows whose submission time does not start with a month (the export's
    dirt) go to ``undated``: every row is written once. ``prefix`` starts
    every file name (``p01-2025-07.parquet``: one province's months).
    """
    folder.mkdir(exist_ok=True)
    month = df["submitted_at"].astype("string").str.extract(r"^(\d{4}-\d{2})", expand=False)
    for key, part in df.groupby(month.fillna("undated"), sort=True):
        _write_table(part, folder / f"{prefix}{key}", fmt)


def write_province(
    province: Province,
    out_dir: str | Path,
    fmt: str = "csv",
    progress: Progress | None = None,
    *,
    parts: bool = False,
) -> Path:
    """Write ``province`` under ``out_dir`` (see the package docstring for the layout).

    With ``parts`` the dossiers table is a folder of one file per month
    (``data/dossiers/2025-07.parquet``, ...), as a national extract comes.
    Returns the data folder.
    """
    import shutil

    from features.errors import UsageError

    if fmt not in ("csv", "parquet"):
        raise UsageError(f"--format must be csv or parquet (got {fmt!r})")
    out = Path(out_dir)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for stale in data.glob("*"):
        if stale.stem in TABLES:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    for name in TABLES:
        if name not in province.tables:  # absent from this export (SimConfig.absent_tables)
            continue
        if progress:
            progress(f"writing {name}")
        if parts and name == "dossiers":
            _write_parts(province.tables[name], data / name, fmt)
        else:
            _write_table(province.tables[name], data / name, fmt)
    _write_table(province.labels, out / "labels", "csv")
    _write_table(province.scenarios, out / "scenarios", "csv")
    (out / "manifest.json").write_text(
        json.dumps(province.manifest, indent=2, ensure_ascii=False) + "\n"
    )
    return data
