"""Read a data folder as the data contract describes it, and report its quality.

:func:`read_dataset` is the one entry point from files to frames: it finds
each ``<table>.csv`` / ``<table>.parquet``, normalises every column
(:mod:`features.normalise`), sets aside rows that cannot be used, merges
duplicates, runs the cross-table checks (:mod:`features.checks`) and returns a
:class:`Dataset` whose report says what was found and done — never silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features._files import RawTable, check_header, locate, read_table_file
from features._private import STR, empty_frame
from features.checks import run_checks
from features.contract import LABELS, LOCAL_TZ, TABLES, Table
from features.errors import ContractError, UsageError
from features.normalise import normalise_table
from features.quality import Issue, IssueLog, QualityReport, TableStatus

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: tables without a key whose rows are useless without these columns
_ROW_KEYS: dict[str, tuple[str, ...]] = {"relations": ("person_id", "related_id")}


@dataclass
class Dataset:
    """A data folder, normalised.

    Attributes
    ----------
    tables
        Every contract table, with exactly the contract's columns and
        normalised dtypes and a 0..n-1 index; an absent (or not requested)
        table is an empty frame, so downstream code never special-cases it.
    present
        Tables that the folder holds.
    sources
        File each present table was read from.
    rejected
        Per table, rows set aside (contract columns plus ``reason`` and
        ``record``, the 1-based record number in the file).
    row_issues
        Long-form data gaps of kept rows: ``table``, ``row`` (position in
        ``tables[table]``), ``column``, ``code``, ``record``.
    report
        The data-quality report.
    """

    tables: dict[str, pd.DataFrame]
    present: frozenset[str]
    sources: dict[str, Path]
    rejected: dict[str, pd.DataFrame]
    row_issues: pd.DataFrame
    report: QualityReport

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def _rejected_frame(table: Table, frame: pd.DataFrame, reasons: pd.Series) -> pd.DataFrame:
    out = frame.loc[reasons.index].copy()
    out["reason"] = reasons.astype(STR)
    out["record"] = reasons.index.astype("int64")
    return out.reset_index(drop=True)


def _empty_rejected(table: Table) -> pd.DataFrame:
    out = empty_frame(table)
    out["reason"] = pd.Series([], dtype=STR)
    out["record"] = pd.Series([], dtype="int64")
    return out


def set_aside(
    frame: pd.DataFrame, table: Table
) -> tuple[pd.DataFrame, pd.DataFrame, int, list[Issue]]:
    """Reject unusable rows and merge duplicates of a normalised table.

    Returns
    -------
    (kept, rejected, merged, issues)
        Kept rows (index = record numbers), rejected rows with a ``reason``,
        the number of exact duplicates merged, and the issues to report.

    Notes
    -----
    A dossier whose ``submitted_at`` is empty or unparseable but whose
    ``synced_at`` is known is *kept*, with ``synced_at`` as its submission
    time (``submitted_at_from_synced_at``): it is the earliest time the
    dossier is known to exist, and dropping it would leave it unscored. Only
    a dossier with neither is rejected. Exact duplicate rows are kept once;
    rows that repeat a key with other content lose to the first one.
    """
    issues: list[Issue] = []
    reasons = pd.Series(dtype=STR)
    keys = (table.key,) if table.key else _ROW_KEYS.get(table.name, ())
    for key in keys:
        missing = frame[key].isna()
        if missing.any():
            issues.append(Issue("missing_key", table.name, key, frame.index[missing]))
            reasons = pd.concat([reasons, pd.Series("missing_key", index=frame.index[missing])])
            frame = frame[~missing]
    if table.name == "dossiers":
        no_time = frame["submitted_at"].isna()
        fallback = no_time & frame["synced_at"].notna()
        if fallback.any():
            frame = frame.copy()
            frame.loc[fallback, "submitted_at"] = frame.loc[fallback, "synced_at"]
            issues.append(
                Issue(
                    "submitted_at_from_synced_at",
                    table.name,
                    "submitted_at",
                    frame.index[fallback],
                    {"synced_at": frame["synced_at"]},
                )
            )
        lost = no_time & ~fallback
        if lost.any():
            issues.append(
                Issue("missing_submitted_at", table.name, "submitted_at", frame.index[lost])
            )
            reasons = pd.concat(
                [reasons, pd.Series("missing_submitted_at", index=frame.index[lost])]
            )
            frame = frame[~lost]
    if table.name == "labels":
        unusable = frame["proxy_type"].isna()
        if unusable.any():
            issues.append(Issue("unusable_label", table.name, "proxy_type", frame.index[unusable]))
            reasons = pd.concat([reasons, pd.Series("unusable_label", index=frame.index[unusable])])
            frame = frame[~unusable]
    merged = 0
    candidates = frame.duplicated(list(keys), keep=False) if keys else pd.Series(True, frame.index)
    if candidates.any():
        exact = frame[candidates].duplicated(keep="first")
        merged = int(exact.sum())
        if merged:
            issues.append(Issue("duplicate_row", table.name, None, exact.index[exact]))
            frame = frame.drop(index=exact.index[exact])
        if table.key:
            conflict = frame.duplicated(table.key, keep="first")
            if conflict.any():
                issues.append(
                    Issue("conflicting_duplicate", table.name, table.key, frame.index[conflict])
                )
                reasons = pd.concat(
                    [reasons, pd.Series("conflicting_duplicate", index=frame.index[conflict])]
                )
                frame = frame[~conflict]
    return frame, reasons, merged, issues


def _load(path: Path, table: Table) -> tuple[RawTable, pd.DataFrame, list[Issue]]:
    """Read one table file and normalise its columns."""
    raw = read_table_file(path, table)
    return raw, *normalise_table(raw.frame, table)


def _read_one(
    table: Table,
    issue_log: IssueLog,
    raw: RawTable,
    frame: pd.DataFrame,
    issues: list[Issue],
) -> tuple[pd.DataFrame, pd.DataFrame, TableStatus, list[tuple[str, str]]]:
    """Clean one table read and normalised by :func:`_load`; report as we go.

    Returns kept, rejected, status, absent."""
    absent_columns = [(table.name, i.column or "") for i in issues if i.code == "column_absent"]
    for issue in [*raw.issues, *issues]:
        issue_log.add(issue, frame)
    full = frame
    kept, reasons, merged, issues = set_aside(frame, table)
    for issue in issues:
        issue_log.add(issue, full)
    rejected = _rejected_frame(table, full, reasons) if len(reasons) else _empty_rejected(table)
    status = TableStatus(
        name=table.name, required=table.required, requested=True, present=True,
        source=str(raw.source), file_format=raw.file_format, rows_read=raw.rows_read,
        rows_kept=len(kept), rows_rejected=len(rejected), rows_skipped=raw.rows_skipped,
        rows_merged=merged,
    )  # fmt: skip
    return kept, rejected, status, absent_columns


def _requested(tables: Iterable[str] | None) -> list[str]:
    if tables is None:
        return list(TABLES)
    names = list(dict.fromkeys(tables))
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise UsageError(
            f"unknown table(s) {', '.join(map(repr, unknown))}; expected some of: "
            + ", ".join(TABLES)
        )
    return names


def _folder(folder: str | Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise ContractError(f"{folder}: data folder not found (expected a folder of table files)")
    return folder


def _missing_table(folder: Path, name: str) -> ContractError:
    return ContractError(
        f"{folder}: required table '{name}' is missing (expected {name}.csv or {name}.parquet)"
    )


def check_folder(folder: str | Path) -> None:
    """Check that :func:`read_dataset` can read a folder's files, without reading their rows.

    A quick check (the headers only) for a command that reads the folder
    later, somewhere its error would be harder to report (the API's workers).

    Raises
    ------
    ContractError
        Missing folder or required table, or a table file that is empty, is
        not UTF-8 CSV / Parquet, or lacks a required column.
    """
    folder = _folder(folder)
    for name, table in TABLES.items():
        path = locate(folder, name)
        if path is not None:
            check_header(path, table)
        elif table.required:
            raise _missing_table(folder, name)


def read_dataset(
    folder: str | Path,
    *,
    tables: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Read and normalise a data folder, with its data-quality report.

    Parameters
    ----------
    folder
        Folder holding ``<table>.csv`` or ``<table>.parquet`` files (Parquet
        wins when both exist).
    tables
        Only read these tables (the others are returned empty, and not
        reported as absent). Default: all.
    progress
        Called with a short message as each step starts (for a CLI spinner).

    Returns
    -------
    Dataset

    Raises
    ------
    ContractError
        Missing folder, missing required table or column, or a file that is
        not UTF-8 CSV / Parquet. The message is one line and names the file.
    UsageError
        ``tables`` names a table the contract does not have.

    Notes
    -----
    Dirty rows never raise: they are reported, and set aside only when they
    cannot be used. Reading 1M dossiers takes seconds, not minutes.
    """
    folder = _folder(folder)
    say = progress or (lambda message: None)
    wanted = _requested(tables)
    issue_log = IssueLog()
    frames: dict[str, pd.DataFrame] = {}
    rejected: dict[str, pd.DataFrame] = {}
    statuses: dict[str, TableStatus] = {}
    sources: dict[str, Path] = {}
    absent_columns: list[tuple[str, str]] = []
    paths = {name: locate(folder, name) if name in wanted else None for name in TABLES}
    for name, table in TABLES.items():
        if name in wanted and table.required and paths[name] is None:
            raise _missing_table(folder, name)
    for name, table in TABLES.items():
        path = paths[name]
        if path is None:
            frames[name] = empty_frame(table)
            rejected[name] = _empty_rejected(table)
            statuses[name] = TableStatus(
                name, table.required, requested=name in wanted, present=False
            )
            if name in wanted:
                issue_log.add(
                    Issue(
                        "table_absent",
                        name,
                        count=1,
                        params={"disables": table.disables, "disables_vi": table.disables_vi},
                    )
                )
            continue
        say(f"reading {path.name}")
        frames[name], rejected[name], statuses[name], absent = _read_one(
            table, issue_log, *_load(path, table)
        )
        absent_columns += absent
        sources[name] = path
    present = frozenset(sources)
    if "dossiers" in present and frames["dossiers"].empty:  # a month without dossiers is no error
        read = statuses["dossiers"].rows_read
        issue_log.add(Issue("no_dossiers", "dossiers", count=1, params={"read": f"{read:,}"}))
    say("checking data quality")
    as_of = pd.Timestamp.now(tz=LOCAL_TZ)
    issue_log.extend(run_checks(frames, present, as_of, absent_columns), frames)
    kept = {name: frame.index for name, frame in frames.items()}
    row_issues = issue_log.row_issues(kept)
    frames = {name: frame.reset_index(drop=True) for name, frame in frames.items()}
    report = issue_log.report(str(folder), statuses)
    log.info("read %s: %d tables, %d findings", folder, len(present), len(report.findings))
    return Dataset(frames, present, sources, rejected, row_issues, report)


def read_labels(path: str | Path) -> tuple[pd.DataFrame, QualityReport]:
    """Read a labels file (``dossier_id``, ``proxy_type``), for training and evaluation.

    Parameters
    ----------
    path
        A ``.csv`` / ``.parquet`` file, or a folder holding ``labels.csv`` or
        ``labels.parquet``.

    Returns
    -------
    (labels, report)
        Usable labels (one row per dossier, 0..n-1 index) and the report of
        what was set aside.

    Raises
    ------
    ContractError
        Missing or unreadable file, or a missing column.
    """
    path = Path(path)
    if path.is_dir():
        found = locate(path, LABELS.name)
        if found is None:
            raise ContractError(f"{path}: no labels.csv or labels.parquet in this folder")
        path = found
    if not path.is_file():
        raise ContractError(f"{path}: labels file not found")
    issue_log = IssueLog()
    kept, _rejected, status, _ = _read_one(LABELS, issue_log, *_load(path, LABELS))
    report = issue_log.report(str(path), {LABELS.name: status})
    return kept.reset_index(drop=True), report
