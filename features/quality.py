"""The data-quality report: findings, per-table counts, and the per-row issue list.

Checks (in :mod:`features.normalise` and :mod:`features.checks`) return
:class:`Issue` objects — which rows of which table share a problem. The
:class:`IssueLog` turns each into a :class:`Finding` with a count, up to five
masked examples and the bilingual explanation from :mod:`features.codes`, and
keeps the long-form row list that becomes ``Dataset.row_issues``.

The report is data only (the CLI renders it); nothing in it shows a personal
value in clear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features._private import jsonable
from features.codes import FINDING_CODES, Severity
from features.contract import LABELS, TABLES, Table
from features.ids import mask_value

MAX_EXAMPLES = 5
_ALL_TABLES: dict[str, Table] = {**TABLES, LABELS.name: LABELS}
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _no_rows() -> pd.Index:
    return pd.Index([], dtype="int64")


@dataclass(frozen=True)
class Issue:
    """Rows of one table that share one data-quality problem (before reporting).

    ``rows`` are labels of the table's frame (record numbers while reading);
    ``values`` maps a column name to a Series (indexed like the frame) whose
    values are shown in the examples, masked when the column is personal.
    """

    code: str
    table: str
    column: str | None = None
    rows: pd.Index = field(default_factory=_no_rows)
    values: Mapping[str, pd.Series] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    count: int | None = None  # when not len(rows), e.g. skipped CSV rows
    examples: tuple[dict[str, Any], ...] | None = None  # prebuilt examples

    @property
    def n(self) -> int:
        """How many rows (or values) the issue concerns."""
        return len(self.rows) if self.count is None else self.count


@dataclass(frozen=True)
class Finding:
    """One line of the data-quality report."""

    code: str
    severity: Severity
    table: str
    column: str | None
    count: int
    examples: tuple[dict[str, Any], ...]
    message_en: str
    message_vi: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (examples are already masked)."""
        return {**asdict(self), "examples": [dict(e) for e in self.examples]}


@dataclass(frozen=True)
class TableStatus:
    """Where a table came from and what happened to its rows.

    ``rows_read == rows_kept + rows_rejected + rows_skipped + rows_merged``:
    skipped rows could not be parsed (wrong number of fields), merged rows were
    exact duplicates, rejected rows are in ``Dataset.rejected``.
    """

    name: str
    required: bool
    requested: bool
    present: bool
    source: str | None = None
    file_format: str | None = None
    rows_read: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0
    rows_merged: int = 0


@dataclass(frozen=True)
class QualityReport:
    """Everything the reader found about a data folder, in report-ready form."""

    source: str
    findings: tuple[Finding, ...]
    tables: Mapping[str, TableStatus]

    @property
    def has_errors(self) -> bool:
        """True when some rows were unusable (rejected or skipped)."""
        return any(f.severity == "error" for f in self.findings)

    @property
    def codes(self) -> frozenset[str]:
        """The finding codes present."""
        return frozenset(f.code for f in self.findings)

    def find(self, code: str, table: str | None = None, column: str | None = None) -> list[Finding]:
        """The findings with ``code`` (optionally only for one table / column)."""
        return [
            f
            for f in self.findings
            if f.code == code
            and (table is None or f.table == table)
            and (column is None or f.column == column)
        ]

    def count(self, code: str, table: str | None = None, column: str | None = None) -> int:
        """Total rows concerned by ``code`` (0 when absent)."""
        return sum(f.count for f in self.find(code, table, column))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form: tables, findings and counts by severity."""
        by_severity = {s: 0 for s in _SEVERITY_ORDER}
        for f in self.findings:
            by_severity[f.severity] += 1
        return {
            "source": self.source,
            "has_errors": self.has_errors,
            "findings_by_severity": by_severity,
            "tables": {name: asdict(status) for name, status in self.tables.items()},
            "findings": [f.to_dict() for f in self.findings],
        }

    def summary_lines(self, lang: str = "en") -> list[str]:
        """Plain lines for a terminal: one per table read, then one per finding.

        Parameters
        ----------
        lang
            ``"en"`` or ``"vi"``: the language of the finding messages.
        """
        lines = []
        for t in self.tables.values():
            if not t.requested:
                continue
            if not t.present:
                lines.append(f"{t.name}: absent")
                continue
            lines.append(
                f"{t.name}: {t.rows_read:,} read, {t.rows_kept:,} kept, "
                f"{t.rows_rejected:,} rejected, {t.rows_skipped:,} skipped, "
                f"{t.rows_merged:,} duplicates merged ({t.source})"
            )
        for f in self.findings:
            message = f.message_vi if lang == "vi" else f.message_en
            lines.append(f"{f.severity.upper():7} {f.code}: {message}")
        return lines


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def make_finding(issue: Issue, examples: Iterable[dict[str, Any]] = ()) -> Finding:
    """Turn an :class:`Issue` into a :class:`Finding` with its bilingual message."""
    spec = FINDING_CODES[issue.code]
    params = _Defaults(
        n=f"{issue.n:,}", table=issue.table, column=issue.column or "", **issue.params
    )
    return Finding(
        code=issue.code,
        severity=spec.severity,
        table=issue.table,
        column=issue.column,
        count=issue.n,
        examples=tuple(examples),
        message_en=spec.en.format_map(params),
        message_vi=spec.vi.format_map(params),
    )


#: column names that are personal in *some* table: masked wherever they appear
_PERSONAL_NAMES = frozenset(c.name for t in _ALL_TABLES.values() for c in t.columns if c.personal)


def _is_personal(table: Table | None, column: str) -> bool:
    if column in _PERSONAL_NAMES:
        return True
    return table is not None and column in table.column_names and table.column(column).personal


def build_examples(issue: Issue, frame: pd.DataFrame | None, table: Table | None) -> list[dict]:
    """Up to five examples: record number, the row's key, the offending values (masked)."""
    examples = []
    for record in issue.rows[:MAX_EXAMPLES]:
        example: dict[str, Any] = {"record": int(record)}
        if table is not None and table.key and frame is not None and table.key in frame:
            key = frame.at[record, table.key] if record in frame.index else None
            example[table.key] = (
                mask_value(key) if _is_personal(table, table.key) else jsonable(key)
            )
        for name, series in issue.values.items():
            value = series.get(record)
            example[name] = mask_value(value) if _is_personal(table, name) else jsonable(value)
        examples.append(example)
    return examples


class IssueLog:
    """Collects findings and the per-row issue list while a data folder is read."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._rows: list[tuple[str, np.ndarray, str, str]] = []

    def add(self, issue: Issue, frame: pd.DataFrame | None = None) -> None:
        """Record ``issue``; ``frame`` is the table it refers to (for examples)."""
        if issue.n == 0:
            return
        table = _ALL_TABLES.get(issue.table)
        examples = issue.examples
        if examples is None:
            examples = tuple(build_examples(issue, frame, table))
        self.findings.append(make_finding(issue, examples))
        if FINDING_CODES[issue.code].row_level and len(issue.rows):
            rows = np.asarray(issue.rows, dtype=np.int64)
            self._rows.append((issue.table, rows, issue.column or "", issue.code))

    def extend(self, issues: Iterable[Issue], frames: Mapping[str, pd.DataFrame]) -> None:
        """Record several issues, each with the frame of its own table."""
        for issue in issues:
            self.add(issue, frames.get(issue.table))

    def row_issues(self, kept: Mapping[str, pd.Index]) -> pd.DataFrame:
        """The long-form issue list, with record numbers mapped to final row positions.

        Parameters
        ----------
        kept
            Per table, the record numbers of the kept rows in final order; issues
            of rows that were not kept (rejected, merged) are left out, since
            those rows are reported in ``Dataset.rejected`` and the findings.
        """
        parts = []
        for table, records, column, code in self._rows:
            if table not in kept:
                continue
            positions = kept[table].get_indexer(records)
            found = positions >= 0
            n = int(found.sum())
            parts.append(
                pd.DataFrame(
                    {
                        "table": [table] * n,
                        "row": positions[found],
                        "column": [column] * n,
                        "code": [code] * n,
                        "record": records[found],
                    }
                )
            )
        frame = pd.concat(parts, ignore_index=True) if parts else _empty_row_issues()
        for name in ("table", "column", "code"):
            frame[name] = frame[name].astype("category")
        return frame.astype({"row": "int64", "record": "int64"})

    def report(self, source: str, tables: Mapping[str, TableStatus]) -> QualityReport:
        """The final report, findings ordered by severity then table order."""
        order = {name: i for i, name in enumerate([*TABLES, "labels"])}
        findings = sorted(
            self.findings,
            key=lambda f: (_SEVERITY_ORDER[f.severity], order.get(f.table, 99), f.code),
        )
        return QualityReport(source=source, findings=tuple(findings), tables=dict(tables))


def _empty_row_issues() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": pd.Series([], dtype=object),
            "row": pd.Series([], dtype="int64"),
            "column": pd.Series([], dtype=object),
            "code": pd.Series([], dtype=object),
            "record": pd.Series([], dtype="int64"),
        }
    )
