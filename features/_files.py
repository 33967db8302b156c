"""Reading one contract table from a CSV or Parquet file (used by :mod:`features.reader`).

A table may also come as a folder of parts (``dossiers/2025-07.parquet``,
``dossiers/2025-08.parquet``, ...: one per province and month in a national
extract): the parts are read in name order and stacked, record numbers
running on from one part to the next.

Only what must touch the file lives here: finding the file, checking that it
is UTF-8 CSV or Parquet with the required columns, and returning the contract
columns as they are written (text for CSV) indexed by 1-based record number.
Anything wrong with the *file* raises :class:`~features.errors.ContractError`
with one line; anything wrong with *rows* is returned as issues.
"""

from __future__ import annotations

import codecs
import csv
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features._private import truncate
from features.contract import Table
from features.errors import ContractError
from features.quality import MAX_EXAMPLES, Issue

_HEADER_PROBE = 1 << 20  # the header must end within the first MiB
_BLOCK_SIZE = 16 << 20  # rows up to 16 MiB long (quoted newlines force serial parsing anyway)
_ROW_TEXT = re.compile(r"(columns, got \d+): .*")


@dataclass
class RawTable:
    """A table as read: contract columns only, index = record number (1-based)."""

    frame: pd.DataFrame
    source: Path
    file_format: str
    rows_read: int
    rows_skipped: int = 0
    issues: list[Issue] = field(default_factory=list)


def locate(folder: Path, name: str) -> Path | None:
    """``<name>.parquet``, else a folder ``<name>/`` of parts, else ``<name>.csv`` in ``folder``.

    File and folder names are case-insensitive; a folder without a part
    (``*.parquet`` or ``*.csv``) does not count.
    """
    entries = list(folder.iterdir())
    files = {p.name.lower(): p for p in entries if p.is_file()}
    folders = {p.name.lower(): p for p in entries if p.is_dir()}
    parted = folders.get(name)
    if parted is not None and not parts(parted):
        parted = None
    return files.get(f"{name}.parquet") or parted or files.get(f"{name}.csv")


def parts(folder: Path) -> list[Path]:
    """A table folder's parts in name order: its Parquet files, or else its CSV files."""
    found = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    parquet = [p for p in found if p.suffix.lower() == ".parquet"]
    return parquet or [p for p in found if p.suffix.lower() == ".csv"]


def _match_columns(path: Path, table: Table, names: list[str]) -> dict[str, int]:
    """Position of each contract column among ``names`` (case and spaces ignored)."""
    folded = [n.strip().lstrip("\ufeff").lower() for n in names]
    positions = {}
    for column in table.column_names:
        if column in folded:
            positions[column] = folded.index(column)
    missing = [c for c in table.required_columns if c not in positions]
    if missing:
        shown = ", ".join(truncate(n) for n in names[:20]) or "no columns"
        if len(names) > 20:
            shown += f", … ({len(names)} columns)"
        also = f"; also missing: {', '.join(missing[1:])}" if len(missing) > 1 else ""
        hint = ""
        if len(names) == 1 and any(sep in names[0] for sep in (";", "\t", "|")):
            hint = "; the header looks ';'/tab-separated, but the contract requires commas"
        raise ContractError(
            f"{path.name}: required column '{missing[0]}' is missing{also} (found: {shown}){hint}"
        )
    return positions


def _read_header(path: Path) -> list[str]:
    size = path.stat().st_size
    if size == 0:
        raise ContractError(f"{path.name}: the file is empty; expected a CSV header row")
    with path.open("rb") as fh:
        head = fh.read(_HEADER_PROBE)
    if b"\x00" in head:
        raise ContractError(
            f"{path.name}: not a text file (it contains NUL bytes); expected a UTF-8 CSV file"
        )
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=len(head) == size)
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"{path.name}: not UTF-8 text (invalid byte at offset {exc.start}); "
            "expected a UTF-8 CSV file"
        ) from exc
    end = text.find("\n")
    if end < 0 and len(head) < size:
        raise ContractError(f"{path.name}: no header line within the first MiB; expected a CSV")
    line = (text if end < 0 else text[:end]).rstrip("\r")
    return next(csv.reader([line]), [])


def read_csv(path: Path, table: Table) -> RawTable:
    """Read the contract columns of a CSV file as text (empty cell = NA).

    Notes
    -----
    Rows with a different number of fields than the header are skipped and
    counted (``bad_csv_row``) with their record numbers. Parsing is serial,
    which Arrow needs to number invalid rows; it still reads ~1M rows/s.
    """
    header = _read_header(path)
    positions = _match_columns(path, table, header)
    names = [f"f{i}" for i in range(len(header))]
    include = [f"f{positions[c]}" for c in table.column_names if c in positions]
    bad: list[tuple[int | None, int]] = []

    def skip(row: pa.csv.InvalidRow) -> str:
        bad.append((row.number, row.actual_columns))
        return "skip"

    previous = sys.unraisablehook

    def quiet(unraisable: sys.UnraisableHookArgs) -> None:
        # Arrow could not decode a bad row (invalid UTF-8) to hand it to skip(): the read fails
        # below with one line, and the traceback would only print to stderr behind it
        if unraisable.object is not skip:
            previous(unraisable)

    sys.unraisablehook = quiet
    try:
        data = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=False, column_names=names, skip_rows=1, block_size=_BLOCK_SIZE
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(include, pa.string()),
                include_columns=include,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # Arrow quotes the row after "Expected N columns, got M: ": personal data, left out
        reason = truncate(_ROW_TEXT.sub(r"\1", reason), 160)
        raise ContractError(f"{path.name}: cannot be read as a UTF-8 CSV file ({reason})") from exc
    finally:
        sys.unraisablehook = previous
    frame = data.to_pandas()
    frame.columns = [c for c in table.column_names if c in positions]
    total = frame.shape[0] + len(bad)
    bad_records = np.array([n - 1 for n, _ in bad if n is not None], dtype=np.int64)
    keep = np.ones(total, dtype=bool)
    keep[bad_records[(bad_records >= 1) & (bad_records <= total)] - 1] = False
    records = np.arange(1, total + 1)[keep]
    if len(records) != frame.shape[0]:  # pragma: no cover - Arrow did not number a bad row
        records = np.arange(1, frame.shape[0] + 1)
    frame.index = pd.Index(records, name=None)
    issues = []
    if bad:
        examples = tuple(
            {"record": None if n is None else n - 1, "fields": fields, "expected": len(header)}
            for n, fields in bad[:MAX_EXAMPLES]
        )
        issues.append(
            Issue(
                "bad_csv_row",
                table.name,
                None,
                count=len(bad),
                examples=examples,
                params={"expected": len(header)},
            )
        )
    return RawTable(frame, path, "csv", total, len(bad), issues)


def _open_parquet(path: Path) -> tuple[pq.ParquetFile, list[str]]:
    try:
        parquet = pq.ParquetFile(path)
        return parquet, list(parquet.schema_arrow.names)
    except (pa.ArrowException, OSError) as exc:
        reason = truncate(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 160)
        raise ContractError(f"{path.name}: not a readable Parquet file ({reason})") from exc


def read_parquet(path: Path, table: Table) -> RawTable:
    """Read the contract columns of a Parquet file, keeping their stored types.

    Integer columns come back as nullable ``Int64`` so IDs stored as numbers
    keep every digit; the normaliser turns them into text and reports it.
    """
    parquet, names = _open_parquet(path)
    positions = _match_columns(path, table, names)
    wanted = [c for c in table.column_names if c in positions]
    try:
        data = parquet.read(columns=[names[positions[c]] for c in wanted])
    except (pa.ArrowException, OSError) as exc:
        reason = truncate(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 160)
        raise ContractError(f"{path.name}: cannot read its columns ({reason})") from exc
    columns = {}
    for name, array in zip(wanted, data.columns, strict=True):
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        columns[name] = array
    data = pa.table(columns)
    frame = data.to_pandas(
        types_mapper=lambda t: pd.Int64Dtype() if pa.types.is_integer(t) else None
    )
    frame.index = pd.RangeIndex(1, frame.shape[0] + 1)
    return RawTable(frame, path, "parquet", frame.shape[0])


def check_header(path: Path, table: Table) -> None:
    """Check, without reading the rows, that ``path`` is a CSV or Parquet file of ``table``.

    Raises
    ------
    ContractError
        As :func:`read_table_file` would for an empty file, one that is not
        UTF-8 CSV or Parquet, or one without a required column.
    """
    for part in parts(path) if path.is_dir() else [path]:
        parquet = part.suffix.lower() == ".parquet"
        _match_columns(part, table, _open_parquet(part)[1] if parquet else _read_header(part))


def read_table_file(path: Path, table: Table) -> RawTable:
    """Read ``path`` as CSV or Parquet, by its extension; a folder as its parts, stacked."""
    if path.is_dir():
        return _read_parts(path, table)
    if path.suffix.lower() == ".parquet":
        return read_parquet(path, table)
    return read_csv(path, table)


def _read_parts(folder: Path, table: Table) -> RawTable:
    """Every part of a table folder, stacked; record numbers run on across the parts.

    Reading a file reports only its skipped CSV rows (``bad_csv_row``): they
    are reported once for the table, each with its record number in the
    whole table and the part that holds it.
    """
    raws = [read_table_file(part, table) for part in parts(folder)]
    offset, examples, params = 0, [], {}
    for raw in raws:
        raw.frame.index = raw.frame.index + offset
        for issue in raw.issues:
            params = dict(issue.params)  # the header's width: the parts share one header
            examples += [
                {**e, "record": None if e.get("record") is None else e["record"] + offset,
                 "part": raw.source.name}
                for e in issue.examples or ()
            ]  # fmt: skip
        offset += raw.rows_read
    frames = [r.frame for r in raws]
    columns = [c for c in table.column_names if any(c in f.columns for f in frames)]
    frame = pd.concat([f.reindex(columns=columns) for f in frames]) if frames else pd.DataFrame()
    skipped = sum(r.rows_skipped for r in raws)
    issues = [
        Issue("bad_csv_row", table.name, None, count=skipped,
              examples=tuple(examples[:MAX_EXAMPLES]), params=params)
    ] if skipped else []  # fmt: skip
    formats = {r.file_format for r in raws}
    return RawTable(
        frame, folder, formats.pop() if len(formats) == 1 else "mixed", offset, skipped, issues
    )
