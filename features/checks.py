"""Data-quality checks that look across columns and tables.

Each check is a pure function of the normalised frames (indexed by record
number while reading) and returns :class:`~features.quality.Issue` objects;
the reader reports them. Checks that need an optional table run only when the
table is present: an absent table is reported once (``table_absent``), not as
thousands of unknown references.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Mapping

import numpy as np
import pandas as pd
from stdnum.vn import mst

from features._private import STR, empty_frame, lookup, on_threads, str_isin
from features.contract import TABLES
from features.ids import VALID_PROVINCE_CODES, check_business_id, check_person_id, owner_id_kind
from features.names import normalise_name
from features.normalise import on_distinct
from features.quality import Issue

Frames = Mapping[str, pd.DataFrame]

#: (table, column) of every citizen-ID column, and of columns that hold a citizen ID
#: or a tax code; businesses.business_id is a tax code only
PERSON_ID_COLUMNS = tuple(
    (t.name, c.name) for t in TABLES.values() for c in t.columns if c.kind == "person_id"
)
OWNER_ID_COLUMNS = tuple(
    (t.name, c.name)
    for t in TABLES.values()
    for c in t.columns
    if c.kind == "owner_id" and (t.name, c.name) != ("businesses", "business_id")
)

_CITIZEN_ID = re.compile(r"\d{12}")
_TAX_CODE = re.compile(r"\d{10}(-\d{3})?")
_NO_PEOPLE = empty_frame(TABLES["people"])

#: (table, column, target table, target column) of plain references
REFERENCES = (
    ("dossiers", "account_id", "accounts", "account_id"),
    ("dossiers", "unit_id", "units", "unit_id"),
    ("dossiers", "received_by", "staff", "staff_id"),
    ("dossiers", "authorization_id", "authorizations", "authorization_id"),
    ("staff", "unit_id", "units", "unit_id"),
    ("counter_visits", "unit_id", "units", "unit_id"),
    ("units", "parent_unit_id", "units", "unit_id"),
)


def _rows(mask: pd.Series) -> pd.Index:
    return mask.index[np.asarray(mask.fillna(False), dtype=bool)]


def _person_issues(table: str, column: str, ids: pd.Series, people: pd.DataFrame) -> list[Issue]:
    """Citizen-ID problems, checked against the people record with the same ID.

    Each distinct ID is checked once (an owner files many dossiers) and the
    findings are spread back over the rows (:func:`features.normalise.on_distinct`).
    """

    def check(each: pd.Series) -> tuple[pd.Series, ...]:
        if not len(people):
            return (check_person_id(each, None, None),)
        birth, sex = lookup(each, people["person_id"], people["birth_date"], people["sex"])
        return check_person_id(each, birth, sex), birth, sex

    problems, *recorded = on_distinct(check, ids)
    issues = []
    for problem in problems.dropna().unique():
        rows = _rows(problems == problem)
        values = {column: ids}
        if problem in ("century_sex_mismatch", "birth_year_mismatch") and recorded:
            birth, sex = recorded
            values = {column: ids, "recorded_birth_date": birth, "recorded_sex": sex}
        issues.append(Issue(f"person_id_{problem}", table, column, rows, values))
    return issues


def _owner_id_issues(
    table: str, column: str, ids: pd.Series, kind: pd.Series, people: pd.DataFrame
) -> list[Issue]:
    """Problems of IDs that may be a citizen ID or a tax code, by their shape (``kind``)."""
    issues = _person_issues(table, column, ids[kind == "person"], people)
    bad_mst = check_business_id(ids[kind == "business"]).notna()
    issues.append(Issue("business_id_invalid", table, column, _rows(bad_mst), {column: ids}))
    issues.append(
        Issue("owner_id_malformed", table, column, _rows(kind == "malformed"), {column: ids})
    )
    return issues


def _clean_owner_id(value: str) -> bool:
    """True when :func:`_owner_id_issues` finds nothing in the ID without a people record.

    The shapes almost every dossier has, checked without pandas: a 12-digit
    citizen ID with a known province and a century digit 0-3, or a valid tax code.
    """
    if _CITIZEN_ID.fullmatch(value):
        return value[:3] in VALID_PROVINCE_CODES and value[3] <= "3"
    return _TAX_CODE.fullmatch(value) is not None and mst.is_valid(value)


def dossier_id_issues(d: Mapping[str, object]) -> list[Issue]:
    """The ID findings :func:`check_ids` gives one dossier, for the scoring API.

    Parameters
    ----------
    d : one normalised dossier (:func:`features.normalise.normalise_dossier`).

    Returns
    -------
    list of Issue
        On row label 0, as ``normalise_dossier``'s issues: ``owner_id_malformed``
        for an owner ID that is neither a citizen ID nor a tax code,
        ``business_id_invalid``, and the ``person_id_*`` problems a citizen ID
        shows on its own.

    Notes
    -----
    The batch also checks a citizen ID's digits against the owner's recorded
    birth date and sex in the population extract; a single dossier is checked
    without it. A clean ID costs a regular expression; only a dirty one goes
    through the batch's pandas code (about 1 ms).
    """
    issues: list[Issue] = []
    for table, column in OWNER_ID_COLUMNS:
        value = d.get(column) if table == "dossiers" else None
        if not isinstance(value, str) or _clean_owner_id(value):
            continue
        ids = pd.Series([value], dtype=STR)
        found = _owner_id_issues(table, column, ids, owner_id_kind(ids), _NO_PEOPLE)
        issues += [i for i in found if i.n]
    return issues


def check_ids(tables: Frames) -> list[Issue]:
    """Malformed citizen IDs and tax codes, wherever an ID of a person or business appears.

    Owner-like columns (owners, holders, grantors, grantees) are checked as a
    citizen ID or a tax code by their shape; the ``people`` extract, when
    present, supplies birth date and sex to check CCCD digits 4–6 against.
    """
    return [i for task in _id_checks(tables) for i in task()]


def _id_checks(tables: Frames) -> list[Callable[[], list[Issue]]]:
    """:func:`check_ids` as one task per column, in report order (each may run on its own thread)."""
    people = tables["people"]

    def person(table: str, column: str) -> list[Issue]:
        return _found(_person_issues(table, column, tables[table][column].dropna(), people))

    def owner(table: str, column: str) -> list[Issue]:
        ids = tables[table][column].dropna()
        kind = owner_id_kind(ids)
        issues = _owner_id_issues(table, column, ids, kind, people)
        if table == "accounts":
            account_type = tables["accounts"]["account_type"].reindex(ids.index)
            mismatch = ((account_type == "citizen") & (kind == "business")) | (
                (account_type == "business") & (kind == "person")
            )
            issues.append(
                Issue(
                    "holder_type_mismatch",
                    table,
                    column,
                    _rows(mismatch),
                    {column: ids, "account_type": account_type},
                )
            )
        return _found(issues)

    def business() -> list[Issue]:
        ids = tables["businesses"]["business_id"].dropna()
        bad = _rows(check_business_id(ids).notna())
        return _found(
            [Issue("business_id_invalid", "businesses", "business_id", bad, {"business_id": ids})]
        )

    return [
        *(functools.partial(person, t, c) for t, c in PERSON_ID_COLUMNS),
        *(functools.partial(owner, t, c) for t, c in OWNER_ID_COLUMNS),
        business,
    ]


def _found(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.n]


def check_references(tables: Frames, present: Collection[str]) -> list[Issue]:
    """References to rows that the folder does not contain.

    Owners and account holders missing from ``people`` / ``businesses`` are an
    *info* data gap: the extracts are partial by nature.
    """
    issues: list[Issue] = []
    for table, column, target, target_column in REFERENCES:
        if table not in present or target not in present:
            continue
        values = tables[table][column]
        known = tables[target][target_column].dropna()
        unknown = values.notna() & ~str_isin(values, known)
        issues.append(
            Issue(
                "unknown_reference",
                table,
                column,
                _rows(unknown),
                {column: values},
                {"target": f"{target}.{target_column}"},
            )
        )
    for table, column, code in (
        ("dossiers", "owner_id", "unknown_owner"),
        ("accounts", "holder_id", "unknown_holder"),
    ):
        if table not in present:
            continue
        ids = tables[table][column].dropna()
        kind = owner_id_kind(ids)
        unknown = pd.Series(False, index=ids.index)
        targets = []
        for shape, target, target_column in (
            ("person", "people", "person_id"),
            ("business", "businesses", "business_id"),
        ):
            if target in present:
                known = tables[target][target_column].dropna()
                unknown |= (kind == shape) & ~str_isin(ids, known)
                targets.append(target)  # a table name reads the same in every language
        if targets:
            issues.append(
                Issue(
                    code,
                    table,
                    column,
                    _rows(unknown),
                    {column: ids},
                    {"target": ", ".join(targets)},
                )
            )
    return [i for i in issues if i.n]


def _before(table: str, later: str, earlier_name: str, frame: pd.DataFrame, code: str) -> Issue:
    """Rows where ``frame[later]`` is strictly before ``frame[earlier_name]``."""
    bad = frame[later] < frame[earlier_name]
    return Issue(
        code, table, later, _rows(bad), {later: frame[later], earlier_name: frame[earlier_name]}
    )


def check_times(tables: Frames, as_of: pd.Timestamp) -> list[Issue]:
    """Impossible orders of events (accepted before submitted, death before birth, ...).

    Parameters
    ----------
    as_of
        The moment after which a birth date is impossible (the reading time).
    """
    dossiers, accounts = tables["dossiers"], tables["accounts"]
    issues = [
        _before("dossiers", "accepted_at", "submitted_at", dossiers, "accepted_before_submitted"),
        _before("dossiers", "synced_at", "submitted_at", dossiers, "synced_before_submitted"),
        _before("people", "death_date", "birth_date", tables["people"], "death_before_birth"),
        _before(
            "staff", "active_to", "active_from", tables["staff"], "active_to_before_active_from"
        ),
        _before(
            "authorizations",
            "valid_to",
            "valid_from",
            tables["authorizations"],
            "mandate_ends_before_start",
        ),
    ]
    (account_created,) = lookup(
        dossiers["account_id"], accounts["account_id"], accounts["created_at"]
    )
    too_early = dossiers["submitted_at"] < account_created
    issues.append(
        Issue(
            "account_created_after_use",
            "dossiers",
            "account_id",
            _rows(too_early),
            {
                "account_id": dossiers["account_id"],
                "submitted_at": dossiers["submitted_at"],
                "account_created_at": account_created,
            },
        )
    )
    people = tables["people"]
    today = as_of.tz_localize(None).normalize() if as_of.tzinfo else as_of.normalize()
    future = people["birth_date"] > today
    issues.append(
        Issue(
            "birth_in_future",
            "people",
            "birth_date",
            _rows(future),
            {"birth_date": people["birth_date"]},
            {"as_of": today.date().isoformat()},
        )
    )
    return [i for i in issues if i.n]


def check_dossier_fields(
    tables: Frames, present: Collection[str], absent_columns: Iterable[tuple[str, str]] = ()
) -> list[Issue]:
    """Online dossiers without an account; owner names that differ from the population record."""
    dossiers = tables["dossiers"]
    absent = set(absent_columns)
    issues = []
    if ("dossiers", "account_id") not in absent:
        no_account = (dossiers["channel"] == "online") & dossiers["account_id"].isna()
        issues.append(
            Issue(
                "online_without_account",
                "dossiers",
                "account_id",
                _rows(no_account),
                {"channel": dossiers["channel"]},
            )
        )
    if "people" in present:
        people = tables["people"]
        (recorded,) = lookup(dossiers["owner_id"], people["person_id"], people["full_name"])
        known = dossiers["owner_name"].notna() & recorded.notna()
        typed = normalise_name(dossiers["owner_name"][known])
        differs = typed != normalise_name(recorded[known])
        issues.append(
            Issue(
                "owner_name_mismatch",
                "dossiers",
                "owner_name",
                _rows(differs),
                {"owner_name": dossiers["owner_name"], "full_name": recorded},
            )
        )
    return [i for i in issues if i.n]


def run_checks(
    tables: Frames,
    present: Collection[str],
    as_of: pd.Timestamp,
    absent_columns: Iterable[tuple[str, str]] = (),
) -> list[Issue]:
    """All cross-column and cross-table checks, in report order.

    Parameters
    ----------
    tables
        Every contract table, normalised (absent ones as empty frames).
    present
        Names of the tables the folder actually holds.
    as_of
        Reading time (for dates in the future).
    absent_columns
        ``(table, column)`` pairs missing from the files, so checks that
        depend on them are skipped instead of flagging every row.
    """
    absent = tuple(absent_columns)
    tasks: list[Callable[[], list[Issue]]] = [
        *_id_checks(tables),
        functools.partial(check_references, tables, present),
        functools.partial(check_times, tables, as_of),
        functools.partial(check_dossier_fields, tables, present, absent),
    ]
    # the checks only read the tables: on threads for a large folder, in report order
    found = on_threads(tasks, len(tables["dossiers"]))
    return [i for issues in found for i in issues]
