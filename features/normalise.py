"""Column-by-column normalisation of a contract table.

One definition serves the batch reader and, for a single dossier, the scoring
API: :func:`normalise_table` takes a frame as read (text, or typed Parquet
columns) and returns the contract's columns with their normalised dtypes, plus
the :class:`~features.quality.Issue` list of what had to be changed.

Bad values never raise: they become unknown (NA) and are reported.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from features._fast_normalise import Step, fast_record, make_plan
from features._private import (
    DATE_DTYPE,
    ID_KINDS,
    NS_MAX,
    NS_MIN,
    STR,
    TS_DTYPE,
    clean_strings,
    dtype_of,
    on_threads,
    re_contains,
    re_replace,
)
from features.contract import DOSSIERS, LOCAL_TZ, Column, Table
from features.errors import ContractError
from features.ids import (
    check_business_id,
    normalise_business_id,
    normalise_owner_id,
    normalise_person_id,
)
from features.quality import Issue

#: numeric columns whose values the contract bounds: (low, high, how to say it)
VALUE_RANGES: dict[tuple[str, str], tuple[float, float, str]] = {
    ("accounts", "verification_level"): (1, 2, "1 or 2 (e-identity level)"),
    ("units", "online_target"): (0.0, 1.0, "[0, 1] (a share)"),
}

# a time (hours alone allowed: ``T08Z``) followed by an offset or Z
_OFFSET_RE = r"[T ]\d{1,2}(?::\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
# pandas reads words ("now", "today") as the current clock: only a date-first text is a moment
_STARTS_WITH_DATE_RE = r"^\d{4}-\d{1,2}-\d{1,2}"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: a dotted-quad IPv4 address in canonical form (RE2)
IPV4_RE = rf"^{_OCTET}(?:\.{_OCTET}){{3}}$"
_DATE_RE = r"^(\d{4}-\d{1,2}-\d{1,2})(?:[T ].*)?$"


def _within_ns(values: pd.Series) -> pd.Series:
    """Datetimes outside the nanosecond range (e.g. year 0999) set to NaT."""
    naive = values.dt.tz_localize(None) if values.dt.tz is not None else values
    return values.where(naive.between(NS_MIN, NS_MAX))


def parse_timestamps(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """ISO 8601 text (or datetimes) to tz-aware local time.

    Returns
    -------
    (values, without_offset, bad)
        ``datetime64[ns, Asia/Ho_Chi_Minh]`` values; a mask of values read
        without an offset (assumed +07:00, the contract's local time); a mask
        of values that could not be parsed (now NaT).
    """
    none = pd.Series(False, index=s.index)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        values = _within_ns(s.dt.tz_convert(LOCAL_TZ))
        return values.astype(TS_DTYPE), none, s.notna() & values.isna()
    if pd.api.types.is_datetime64_dtype(s.dtype):
        values = _within_ns(s).dt.tz_localize(LOCAL_TZ)
        return values.astype(TS_DTYPE), s.notna() & values.notna(), s.notna() & values.isna()
    text = clean_strings(s)
    dated = re_contains(text, _STARTS_WITH_DATE_RE)
    has_offset = re_contains(text, _OFFSET_RE) & dated
    values = pd.Series(pd.NaT, index=s.index, dtype=TS_DTYPE)
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], format="ISO8601", utc=True, errors="coerce")
        values[has_offset] = _within_ns(aware).dt.tz_convert(LOCAL_TZ).astype(TS_DTYPE)
    naive_rows = text.notna() & ~has_offset & dated
    if naive_rows.any():
        part = text[naive_rows]
        try:
            naive = pd.to_datetime(part, format="ISO8601", errors="coerce")
        except ValueError:  # an offset the pattern missed, mixed with values without one
            naive = None
        if naive is None or isinstance(naive.dtype, pd.DatetimeTZDtype):
            # value by value; an offset pandas found there counts as an offset
            moments = [_one_moment(v) for v in part]
            local = [
                pd.NaT
                if m is None
                else m.tz_convert(LOCAL_TZ)
                if m.tzinfo
                else m.tz_localize(LOCAL_TZ)
                for m in moments
            ]
            values[naive_rows] = pd.Series(local, index=part.index, dtype=TS_DTYPE)
            offset = pd.Series(
                [m is not None and m.tzinfo is not None for m in moments], index=part.index
            )
            naive_rows[offset.index[offset.to_numpy()]] = False
        else:
            values[naive_rows] = _within_ns(naive).dt.tz_localize(LOCAL_TZ).astype(TS_DTYPE)
    bad = text.notna() & values.isna()
    return values, naive_rows & values.notna(), bad


def _one_moment(text: str) -> pd.Timestamp | None:
    """One ISO 8601 text as a nanosecond Timestamp (with its offset, if any), or None."""
    try:
        return pd.Timestamp(pd.to_datetime(text, format="ISO8601")).as_unit("ns")
    except (ValueError, OverflowError):  # unparseable, or outside the nanosecond range
        return None


def parse_dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``YYYY-MM-DD`` text (a full timestamp's date part is accepted) to naive midnight.

    Returns
    -------
    (values, bad)
        ``datetime64[ns]`` values and the mask of unparseable ones (now NaT).
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        values = _within_ns(s.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)).dt.normalize()
        return values.astype(DATE_DTYPE), s.notna() & values.isna()
    if pd.api.types.is_datetime64_dtype(s.dtype):
        values = _within_ns(s).dt.normalize()
        return values.astype(DATE_DTYPE), s.notna() & values.isna()
    if pd.api.types.is_object_dtype(s.dtype) and not s.dropna().map(type).eq(str).all():
        s = s.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)  # Parquet date32
    text = clean_strings(s)
    head = text.str.extract(_DATE_RE, expand=False)
    parsed = pd.to_datetime(head, format="%Y-%m-%d", errors="coerce")
    values = _within_ns(parsed).astype(DATE_DTYPE)
    return values, text.notna() & values.isna()


def normalise_enum(s: pd.Series, allowed: tuple[str, ...]) -> tuple[pd.Series, pd.Series]:
    """Map values onto the contract's spelling (``"Online "`` → ``"online"``).

    Case, surrounding spaces and inner spaces or hyphens (for ``_``) are
    forgiven; anything else outside ``allowed`` becomes NA and is flagged.
    """
    text = clean_strings(s)
    key = re_replace(text.str.lower(), r"[\s\p{Z}\-]+", "_")
    values = key.map({v.lower(): v for v in allowed}).astype(STR)
    return values, text.notna() & values.isna()


def _to_numbers(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Numbers from text; returns (values as float, percent mask, present mask)."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        values = pd.to_numeric(s, errors="coerce").astype("float64")
        return values, pd.Series(False, index=s.index), s.notna()
    text = clean_strings(s)
    percent = text.str.endswith("%").fillna(False).astype(bool)
    body = text.str.rstrip("%").str.strip()
    comma_decimal = body.str.fullmatch(r"[+-]?\d*,\d+").fillna(False).astype(bool)
    body = body.where(~comma_decimal, body.str.replace(",", ".", regex=False))
    values = pd.to_numeric(body, errors="coerce").astype("float64")
    values = values.where(np.isfinite(values))
    values[percent] = values[percent] / 100
    return values, percent & values.notna(), text.notna()


def parse_ints(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integers from text (``"2"``, ``"2.0"``); others become NA and are flagged."""
    values, _, present = _to_numbers(s)
    integral = values.notna() & (values == values.round())
    out = values.where(integral).astype("Int64")
    return out, present & out.isna()


def parse_floats(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Floats from text; ``85%`` → 0.85, decimal comma accepted.

    Returns
    -------
    (values, percent, bad)
    """
    values, percent, present = _to_numbers(s)
    return values, percent, present & values.isna()


def _canonical_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _canonical_cidrs(cell: str) -> tuple[str | None, bool]:
    valid, bad = [], False
    for part in cell.split(";"):
        part = part.strip()
        if not part:
            continue
        try:
            valid.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            bad = True
    return (";".join(valid) or None), bad


def _per_unique(text: pd.Series, fn: Callable[[str], object]) -> pd.Series:
    """Apply ``fn`` once per unique non-null value of ``text`` (aligned result)."""
    mapping = {v: fn(v) for v in text.dropna().unique()}
    return text.map(mapping)


def normalise_ips(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """IPv4/IPv6 addresses in canonical form; invalid ones become NA and are flagged.

    Dotted-quad IPv4 already in canonical form (most of them) is recognised by
    one regex; only the rest goes through :mod:`ipaddress`, once per unique value.
    """
    text = clean_strings(s)
    canonical = re_contains(text, IPV4_RE)
    values = text.copy()
    rest = text.notna() & ~canonical
    if rest.any():
        values[rest] = _per_unique(text[rest], _canonical_ip).astype(STR)
    return values, text.notna() & values.isna()


def normalise_cidrs(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``;``-separated CIDR lists in canonical form; invalid entries dropped and flagged."""
    text = clean_strings(s)
    pairs = _per_unique(text, _canonical_cidrs)
    values = pairs.map(lambda p: p[0], na_action="ignore").astype(STR)
    bad = pairs.map(lambda p: p[1], na_action="ignore").fillna(False).astype(bool)
    return values, bad


def _numbers_to_text(s: pd.Series) -> pd.Series:
    """Numbers (an ID column stored as int or float) as their integer text."""
    values = pd.to_numeric(s, errors="coerce")
    integral = values.notna() & (values == values.round())
    text = values.where(integral).astype("Int64").astype(STR)
    return text.where(integral, s.astype(STR))


def _issue(
    code: str, table: Table, column: Column, mask: pd.Series, raw: pd.Series, **params: object
) -> Issue:
    rows = mask.index[np.asarray(mask, dtype=bool)]
    return Issue(code, table.name, column.name, rows, {column.name: raw}, params)


#: a column with at most this share of distinct values is normalised once per distinct value
DISTINCT_SHARE = 0.5


def on_distinct(
    fn: Callable[[pd.Series], tuple[pd.Series, ...]], s: pd.Series
) -> tuple[pd.Series, ...]:
    """``fn(s)`` for an ``fn`` that treats each value on its own, run once per distinct value.

    A province's owners, IP addresses and channels repeat across dossiers
    (a million dossiers hold 400,000 owners, 160,000 addresses, ten
    spellings of a channel): ``fn`` sees each distinct value, and unknown,
    once, and its row-aligned outputs are spread back over the rows.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if len(uniques) > DISTINCT_SHARE * len(s):
        return fn(s)
    distinct = pd.concat([pd.Series(uniques, dtype=s.dtype), pd.Series([None], dtype=s.dtype)])
    outs = fn(distinct.reset_index(drop=True))
    take = np.where(codes < 0, len(uniques), codes)
    return tuple(out.iloc[take].set_axis(s.index) for out in outs)


def normalise_column(s: pd.Series, table: Table, column: Column) -> tuple[pd.Series, list[Issue]]:
    """Normalise one column of ``table`` to its contract type.

    Returns
    -------
    (values, issues)
        The normalised Series (same index) and what was changed or rejected.
    """
    raw = s
    issues: list[Issue] = []
    numeric = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    if numeric and column.kind not in ("int", "float"):
        s = _numbers_to_text(s)
        if column.kind in ID_KINDS:
            issues.append(
                Issue("id_stored_as_number", table.name, column.name, count=int(raw.notna().sum()))
            )
    kind = column.kind
    if kind in ("id", "str"):
        values = clean_strings(s)
    elif kind == "person_id":
        values, repaired = on_distinct(lambda v: normalise_person_id(clean_strings(v)), s)
        issues.append(_issue("person_id_repaired", table, column, repaired, raw))
    elif kind == "owner_id":
        text = clean_strings(s)
        if numeric:  # a tax code starting with 0 lost it; restore when the MST is then valid
            nine = text.str.fullmatch(r"\d{9}").fillna(False).astype(bool)
            fixed = nine & check_business_id("0" + text).isna()
            text = text.where(~fixed, "0" + text)
            issues.append(_issue("business_id_repaired", table, column, fixed, raw))
        if column.name == "business_id":
            (values,) = on_distinct(lambda v: (normalise_business_id(v),), text)
        else:
            values, repaired = on_distinct(normalise_owner_id, text)
            issues.append(_issue("person_id_repaired", table, column, repaired, raw))
    elif kind == "enum":
        values, bad = on_distinct(lambda v: normalise_enum(v, column.values), s)
        allowed = ", ".join(column.values)
        issues.append(_issue("bad_enum", table, column, bad, raw, allowed=allowed))
    elif kind == "timestamp":
        values, without_offset, bad = parse_timestamps(s)
        issues.append(_issue("timestamp_without_offset", table, column, without_offset, raw))
        issues.append(_issue("bad_timestamp", table, column, bad, raw))
    elif kind == "date":
        values, bad = parse_dates(s)
        issues.append(_issue("bad_date", table, column, bad, raw))
    elif kind in ("int", "float"):
        if kind == "int":
            values, bad = parse_ints(s)
            percent = pd.Series(False, index=s.index)
        else:
            values, percent, bad = parse_floats(s)
        low, high, expected = VALUE_RANGES.get((table.name, column.name), (None, None, kind))
        issues.append(_issue("bad_number", table, column, bad, raw, expected=expected))
        issues.append(_issue("percent_value", table, column, percent, raw))
        if low is not None:
            out = values.notna() & ~values.between(low, high)
            issues.append(_issue("value_out_of_range", table, column, out, raw, expected=expected))
            values = values.where(~out)
    elif kind == "ip":
        values, bad = on_distinct(normalise_ips, s)
        issues.append(_issue("bad_ip", table, column, bad, raw))
    elif kind == "cidrs":
        values, bad = normalise_cidrs(s)
        issues.append(_issue("bad_cidr", table, column, bad, raw))
    else:  # pragma: no cover - the contract has no other kinds
        raise ValueError(f"{table.name}.{column.name}: unknown column kind {kind!r}")
    return values.astype(dtype_of(column)), [i for i in issues if i.n]


def _empty_cells(s: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype):
        return clean_strings(s).isna()
    return s.isna()


def normalise_table(frame: pd.DataFrame, table: Table) -> tuple[pd.DataFrame, list[Issue]]:
    """Normalise a frame as read to the contract's columns and dtypes.

    Parameters
    ----------
    frame
        The table as read: any extra columns are ignored; absent columns are
        added as all-unknown (with a ``column_absent`` issue).
    table
        The contract table.

    Returns
    -------
    (frame, issues)
        Exactly ``table.column_names``, same index as the input.

    Notes
    -----
    A required, non-nullable cell that is empty gets ``missing_value``,
    except the table's key (a row without one is rejected by the reader) and
    ``dossiers.submitted_at`` (the reader falls back to ``synced_at``).
    """

    def one(column: Column) -> tuple[pd.Series, list[Issue]]:
        if column.name not in frame:
            absent = pd.Series(
                pd.NA if column.kind == "int" else None, index=frame.index, dtype=dtype_of(column)
            )
            return absent, [Issue("column_absent", table.name, column.name, count=1)]
        raw = frame[column.name]
        values, found = normalise_column(raw, table, column)
        exempt = column.name == table.key or (table.name, column.name) == (
            "dossiers",
            "submitted_at",
        )
        if not column.nullable and not exempt:
            found = [*found, _issue("missing_value", table, column, _empty_cells(raw), raw)]
        return values, found

    # columns are independent: large tables use the cores (1M dossiers: 3.3 s -> 2.0 s on two
    # cores); same order either way
    done = on_threads([functools.partial(one, c) for c in table.columns], len(frame))
    columns = {c.name: values for c, (values, _) in zip(table.columns, done, strict=True)}
    issues = [issue for _, found in done for issue in found]
    out = pd.DataFrame(columns, index=frame.index)
    return out, [i for i in issues if i.n]


@functools.cache
def _dossier_plan() -> tuple[Step, ...]:
    """The fast path's steps for ``dossiers``, learnt from the batch code itself.

    Normalising one all-empty row says what an empty cell becomes in each
    column and which empty cells are reported, so neither rule is restated.
    """
    empty, issues = normalise_table(pd.DataFrame([dict.fromkeys(DOSSIERS.column_names)]), DOSSIERS)
    reported = frozenset(i.column for i in issues if i.column is not None)
    return make_plan(DOSSIERS, empty.iloc[0].to_dict(), reported)


def _unrepresentable_number(v: object) -> str | None:
    """The integer text of a number the batch's int64 step cannot hold, else None.

    A one-row frame holds ``2**63`` as uint64 and ``1e20`` or ``inf`` as
    float64, and :func:`_numbers_to_text` fails to cast them to Int64; from
    ``2**64`` on, an int is an object column, read as text without a finding.
    """
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        return None
    if isinstance(v, int | np.integer):
        return None if -(2**63) <= int(v) < 2**63 else str(int(v))
    f = float(v)
    if math.isnan(f) or -(2.0**63) <= f < 2.0**63:
        return None
    return str(int(f)) if math.isfinite(f) else str(f)


def _normalise_slow(
    raw: Mapping[str, object], names: list[str]
) -> tuple[dict[str, object], list[Issue]]:
    """The batch path for a few columns of one dossier: a one-row :func:`normalise_table`."""
    columns = tuple(DOSSIERS.column(n) for n in names)
    cells: dict[str, object] = {}
    number_issues: dict[str, Issue] = {}
    for column in columns:
        v = raw.get(column.name)
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ContractError(
                    f"{DOSSIERS.name}.{column.name}: the text has a lone surrogate at "
                    f"position {exc.start}; expected valid Unicode (UTF-8) text"
                ) from exc
        text = _unrepresentable_number(v)
        if text is not None:
            v = text
            if column.kind in ID_KINDS:
                number_issues[column.name] = Issue(
                    "id_stored_as_number", DOSSIERS.name, column.name, count=1
                )
        cells[column.name] = v
    # the same table (name, key) restricted to these columns: same rules, no absent columns
    part = dataclasses.replace(DOSSIERS, columns=columns)
    frame, found = normalise_table(pd.DataFrame([cells]), part)
    values = {n: frame[n].iloc[0] for n in names}
    issues: list[Issue] = []
    for n in names:  # normalise_table's order: column by column, as in the contract
        if n in number_issues:
            issues.append(number_issues[n])
        issues.extend(i for i in found if i.column == n)
    return values, issues


def normalise_dossier(raw: Mapping[str, object]) -> tuple[dict[str, object], list[Issue]]:
    """Normalise one dossier as the scoring API receives it, exactly as the batch does.

    Parameters
    ----------
    raw
        The dossier's fields by ``dossiers`` column name: strings, None, or
        anything JSON can carry (a number for an ID, ...). Absent keys are
        unknown; other keys are ignored.

    Returns
    -------
    (values, issues)
        Every ``dossiers`` column in contract order, valued as
        ``normalise_table(pd.DataFrame([row]), DOSSIERS)[0].iloc[0]`` would
        be, ``row`` being ``raw`` with absent columns as None: ``str`` or NaN,
        nanosecond ``pd.Timestamp`` in Asia/Ho_Chi_Minh or NaT; and that call's
        issues (row label 0). As absent keys count as None, a missing required
        column gives ``missing_value``, never ``column_absent``.

    Raises
    ------
    ContractError
        A string that is not valid Unicode (a lone surrogate from a JSON
        ``\\ud800`` escape), which the batch cannot encode either.

    Notes
    -----
    ~15–20 µs for a clean dossier at submission; each further timestamp
    (``synced_at``, ``accepted_at``) adds ~5–10 µs, the price of a zone-aware
    nanosecond ``pd.Timestamp``. Each value whose batch result a cheap test
    (:mod:`features._fast_normalise`) can prove, which is almost all of them,
    gets it directly; the others go together through a one-row
    :func:`normalise_table` restricted to their columns (~5–15 ms).

    A number is treated as a one-row numeric column of the batch
    (:func:`_numbers_to_text`): integral numbers become their integer text,
    with ``id_stored_as_number`` for ID columns (and the lost-zero repairs of
    owner IDs), others their text; booleans become ``"True"``/``"False"``.
    Numbers beyond int64, or infinite, which a one-row batch either fails on
    or takes as text, all become their integer text (or ``inf``), with the
    same issue for ID columns.
    """
    values, slow = fast_record(raw, _dossier_plan())
    if not slow:
        return values, []
    found, issues = _normalise_slow(raw, slow)
    values.update(found)
    return values, issues
