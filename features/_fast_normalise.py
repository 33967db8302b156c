"""Per-value fast path of :func:`features.normalise.normalise_dossier`.

The batch normaliser works on whole columns and costs milliseconds even for one
row. Almost every value the scoring API receives is already in the form the
batch would give it, so for each column kind this module has a cheap check that
*proves* the batch result for one value and returns it (or ``None``: "ask
pandas"). The checks are deliberately narrow: each accepts only values whose
batch result is certain and raises no data-quality issue, and
``tests/features/test_normalise_dossier.py`` compares them with the batch path
value by value (every row of a simulated export, every Unicode code point as
padding, and generated dirt).

Every check takes the value with surrounding spaces already removed
(``v.strip(" ")``, never empty). Only the space is stripped: Python's and
Arrow's ideas of whitespace come from separate Unicode tables (they agree
today, over every code point), and the checks accept only printable text, in
which the space is the one whitespace character.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache

import pandas as pd
from stdnum.vn import mst

from features._private import TS_DTYPE
from features.contract import Column, Table
from features.ids import VALID_PROVINCE_CODES

#: a check: one value (stripped of spaces, not empty) → its batch value, or None when unsure
Fast = Callable[[str], object]

#: per column: name, check (None: always pandas), value of an empty cell,
#: and whether an empty cell is fine (no ``missing_value`` issue)
Step = tuple[str, Fast | None, object, bool]

_TZ = pd.DatetimeTZDtype.construct_from_string(TS_DTYPE).tz  # the batch's own tz object
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")  # normalise.IPV4_RE, ASCII digits only
# The common ISO 8601 forms: years well inside the nanosecond range, valid clock
# fields, up to microseconds (fromisoformat would truncate nanoseconds, pandas
# does not), and an offset that both parsers read the same way.
_TIMESTAMP = re.compile(
    r"(?:19|20|21)[0-9]{2}-[0-9]{2}-[0-9]{2}[T ]"
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
#: 10-digit owner IDs starting with these cannot be a CCCD that lost two zeros
#: (``00`` + the digit is no province code), so they stay as they are
_TEN_DIGITS_KEPT = frozenset(d for d in "0123456789" if f"00{d}" not in VALID_PROVINCE_CODES)
#: the others stay when they are a valid tax code (stdnum, as features.ids checks it);
#: cached, as a business files many dossiers
_valid_mst = lru_cache(maxsize=1024)(mst.is_valid)


def text_value(t: str) -> str | None:
    """``id`` and ``str`` columns: the batch only strips surrounding whitespace."""
    return t if t.isprintable() else None


def owner_id_value(t: str) -> str | None:
    """``owner_id`` columns: a CCCD, or a tax code in dash form.

    Spaces typed inside a CCCD are dropped, as :func:`~features.ids.compact_id`
    does; any other separator, and the shapes that may need a repair (10
    digits that are no valid tax code but could be a CCCD without its two
    zeros, 11 digits), go to pandas.
    """
    t = t.replace(" ", "")
    if not t.isascii():
        return None
    n = len(t)
    if n == 12 and t.isdigit():
        return t
    if n == 13 and t.isdigit():
        return f"{t[:10]}-{t[10:]}"
    if n == 14 and t[10] == "-" and t[:10].isdigit() and t[11:].isdigit():
        return t
    if n == 10 and t.isdigit() and (t[0] in _TEN_DIGITS_KEPT or _valid_mst(t)):
        return t
    return None


def enum_value(allowed: tuple[str, ...]) -> Fast:
    """``enum`` columns: the contract's spelling, or its ASCII case variants."""
    spelled = frozenset(allowed)

    def value(t: str) -> str | None:
        if t in spelled:
            return t
        if t.isascii():
            lower = t.lower()
            if lower in spelled:  # no space or hyphen inside, so the batch key is `lower`
                return lower
        return None

    return value


def ip_value(t: str) -> str | None:
    """``ip`` columns: dotted-quad IPv4 as is, IPv6 in :mod:`ipaddress`'s canonical form."""
    if _IPV4.fullmatch(t):
        return t
    if ":" not in t or not t.isprintable():  # a tab after a scope ID ("%eth0\t") is trimmed first
        return None
    return _ipv6_value(t)


@lru_cache(maxsize=1024)
def _ipv6_value(t: str) -> str | None:
    """The batch's :func:`ipaddress.ip_address` round trip, or None when it fails.

    Cached: it costs ~10 µs, and a client's address recurs across its dossiers.
    """
    try:
        return str(ipaddress.IPv6Address(t))
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def timestamp_value(t: str) -> pd.Timestamp | None:
    """``timestamp`` columns: ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` with an offset or ``Z``.

    Returns a nanosecond ``pd.Timestamp`` in the contract's time zone, as an
    element of the batch's ``datetime64[ns, Asia/Ho_Chi_Minh]`` column is.

    Notes
    -----
    Cached: a desk dossier's sync time is often its submission time, to the
    second. ``pd.Timestamp(epoch_ns, tz=...)`` is the cheapest
    public way to a nanosecond, zone-aware Timestamp (~5 µs); converting a
    ``datetime`` gives microseconds and needs a second step.
    """
    if _TIMESTAMP.fullmatch(t) is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(t)
    except ValueError:  # e.g. 2025-02-30
        return None
    return pd.Timestamp(((parsed - _EPOCH) // _MICROSECOND) * 1000, tz=_TZ)


def _fast_for(column: Column) -> Fast | None:
    if column.kind in ("id", "str"):
        return text_value
    if column.kind == "owner_id" and column.name != "business_id":
        return owner_id_value
    if column.kind == "enum":
        return enum_value(column.values)
    if column.kind == "ip":
        return ip_value
    if column.kind == "timestamp":
        return timestamp_value
    return None  # dates, numbers, CIDR lists, bare CCCDs: pandas (not in dossiers)


def make_plan(
    table: Table, empty_values: Mapping[str, object], reported_when_empty: frozenset[str]
) -> tuple[Step, ...]:
    """The per-column steps of :func:`fast_record` for ``table``.

    Parameters
    ----------
    table
        The contract table.
    empty_values
        What the batch gives for an empty cell of each column (NaN, NaT, NA).
    reported_when_empty
        Columns whose empty cell the batch reports (``missing_value``); their
        empty cells go to pandas so that the issue is the batch's own.

    Notes
    -----
    The last two are learnt by normalising an all-empty row with the batch
    code (see ``normalise._dossier_plan``) rather than restated here, so the
    rule of which empty cells are reported exists once.
    """
    return tuple(
        (c.name, _fast_for(c), empty_values[c.name], c.name not in reported_when_empty)
        for c in table.columns
    )


def fast_record(
    raw: Mapping[str, object], plan: tuple[Step, ...]
) -> tuple[dict[str, object], list[str]]:
    """Normalise what the fast path can prove; name the columns it cannot.

    Returns
    -------
    (values, slow)
        Every column of the plan, in order (the ``slow`` ones hold None until
        the caller fills them in), and the columns that need pandas.

    Notes
    -----
    An absent key, None and a float NaN are empty cells; a string is taken
    after removing surrounding spaces; any other type (a JSON number for an
    ID, a boolean, ...) goes to pandas, which decides what it becomes.
    """
    out: dict[str, object] = {}
    slow: list[str] = []
    for name, fast, empty, quiet in plan:
        v = raw.get(name)
        if type(v) is str:
            t = v.strip(" ")
            if t:
                if fast is not None:
                    value = fast(t)
                    if value is not None:
                        out[name] = value
                        continue
            elif quiet:
                out[name] = empty
                continue
        elif quiet and (v is None or (type(v) is float and math.isnan(v))):
            out[name] = empty
            continue
        out[name] = None
        slow.append(name)
    return out, slow
