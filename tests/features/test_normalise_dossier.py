"""One dossier normalised for the scoring API equals the batch, value by value.

The reference is always the batch code: ``normalise_table`` on the whole
export (every row of a simulated province) or on a one-row frame built from
the dossier with absent keys as None. Values must be equal *and* of the same
kind (NaN vs NaT, ``str``), timestamps in the same zone and unit, and the
issues the same codes, columns, counts and parameters.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hand_made import MST
from hypothesis import given, settings
from hypothesis import strategies as st

from features import ContractError, Issue
from features._fast_normalise import _ipv6_value, fast_record, timestamp_value
from features._files import read_csv
from features._private import STR
from features.contract import DOSSIERS, LOCAL_TZ, Column
from features.ids import VALID_PROVINCE_CODES
from features.normalise import _dossier_plan, normalise_column, normalise_dossier, normalise_table

COLUMNS = DOSSIERS.column_names
#: hypothesis runs are reproducible and leave no example database behind
REPRODUCIBLE = settings(deadline=None, derandomize=True, database=None)

IssueKey = tuple[str, str, str | None, int, tuple[tuple[str, Any], ...]]


# ---------------------------------------------------------------- comparisons


def same(got: object, want: object) -> bool:
    """Equal and of the same kind; timestamps also in the same zone and unit."""
    if isinstance(want, pd.Timestamp):
        return (
            isinstance(got, pd.Timestamp)
            and got == want
            and got.tz == want.tz
            and got.unit == want.unit
        )
    if want is pd.NaT:
        return got is pd.NaT
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return type(got) is type(want) and got == want


def key(issue: Issue) -> IssueKey:
    return issue.code, issue.table, issue.column, issue.n, tuple(sorted(issue.params.items()))


def reference(raw: Mapping[str, object]) -> tuple[dict[str, object], list[Issue]]:
    """The batch on a one-row frame of ``raw``, absent keys as None."""
    frame, issues = normalise_table(pd.DataFrame([{c: raw.get(c) for c in COLUMNS}]), DOSSIERS)
    return frame.iloc[0].to_dict(), issues


def assert_matches_reference(raw: Mapping[str, object]) -> None:
    got, got_issues = normalise_dossier(raw)
    want, want_issues = reference(raw)
    assert list(got) == COLUMNS
    for c in COLUMNS:
        assert same(got[c], want[c]), f"{c}: {raw.get(c)!r} gave {got[c]!r}, batch {want[c]!r}"
    assert [key(i) for i in got_issues] == [key(i) for i in want_issues], raw
    assert [list(i.rows) for i in got_issues] == [list(i.rows) for i in want_issues]


# ------------------------------------------------- every row of a simulated export


@pytest.fixture(scope="module")
def export(province_dir: Path) -> pd.DataFrame:
    """dossiers.csv as the batch reader reads it: text, empty cell = NaN, index = record."""
    return read_csv(province_dir / "data" / "dossiers.csv", DOSSIERS).frame


def as_request(cells: Mapping[str, object]) -> dict[str, object]:
    """A row of the export as the API receives it (JSON null for an empty cell)."""
    return {c: (None if pd.isna(v) else v) for c, v in cells.items()}


def test_every_row_of_a_simulated_export_matches_the_whole_table(export: pd.DataFrame) -> None:
    batch, batch_issues = normalise_table(export, DOSSIERS)
    per_row: dict[object, list[IssueKey]] = defaultdict(list)
    for issue in batch_issues:  # the batch lists issues column by column, as a row does
        for label in issue.rows:
            per_row[label].append((*key(issue)[:3], 1, key(issue)[4]))
    plan = _dossier_plan()
    slow_rows = 0
    rows = zip(export.index, export.to_dict("records"), batch.to_dict("records"), strict=True)
    for label, cells, want in rows:
        raw = as_request(cells)
        slow_rows += bool(fast_record(raw, plan)[1])
        got, issues = normalise_dossier(raw)
        for c in COLUMNS:
            assert same(got[c], want[c]), f"record {label}, {c}: {got[c]!r} != {want[c]!r}"
        assert [key(i) for i in issues] == per_row.get(label, []), f"record {label}"
    # the export is dirty enough for this to mean something: the simulator's
    # export dirt reaches the slow path and raises these findings
    codes = {i.code for i in batch_issues}
    assert {"bad_enum", "bad_ip", "bad_timestamp", "timestamp_without_offset"} <= codes
    assert "person_id_repaired" in codes
    assert 0 < slow_rows < len(export) / 10


# --------------------------------------------------------------- hand-picked cases


def test_a_clean_dossier_comes_back_as_it_was_sent() -> None:
    raw = {
        "dossier_id": "H1",
        "procedure_code": "1.001193",
        "unit_id": "X001",
        "channel": "online",
        "submitted_at": "2025-03-14T08:12:45+07:00",
        "owner_id": "079095012345",
        "owner_name": "Nguyễn Văn An",
        "ip": "2001:db8::1",
        "not_a_contract_column": "ignored",
    }
    values, issues = normalise_dossier(raw)
    assert issues == []
    submitted = values["submitted_at"]
    assert isinstance(submitted, pd.Timestamp)
    assert submitted == pd.Timestamp("2025-03-14T08:12:45+07:00")
    assert str(submitted.tz) == LOCAL_TZ
    assert submitted.unit == "ns"  # an element of a datetime64[ns, tz] column
    assert values["ip"] == "2001:db8::1"
    assert values["synced_at"] is pd.NaT
    assert same(values["account_id"], math.nan)
    assert "not_a_contract_column" not in values
    assert_matches_reference(raw)


def test_absent_keys_are_unknown_and_required_ones_are_reported_as_missing() -> None:
    # an empty request: every column unknown; dossier_id (the key) and
    # submitted_at (the reader falls back to synced_at) are exempt, the other
    # three non-nullable columns are reported as missing, never as absent
    values, issues = normalise_dossier({})
    assert [(i.code, i.column) for i in issues] == [
        ("missing_value", "procedure_code"),
        ("missing_value", "unit_id"),
        ("missing_value", "channel"),
    ]
    assert values["submitted_at"] is pd.NaT
    assert_matches_reference({})
    assert_matches_reference(dict.fromkeys(COLUMNS))  # None and absent are the same
    assert_matches_reference(dict.fromkeys(COLUMNS, ""))
    assert_matches_reference(dict.fromkeys(COLUMNS, float("nan")))


@pytest.mark.parametrize(
    ("column", "sent", "expected", "codes"),
    [
        # a JSON number for an ID is a one-value numeric column: its integer text, reported
        ("dossier_id", 123, "123", ["id_stored_as_number"]),
        ("unit_id", 7.0, "7", ["id_stored_as_number"]),
        ("device_id", 1.5, "1.5", ["id_stored_as_number"]),
        # a CCCD that went through a number lost its zero; 0 + 79... starts with a province
        ("owner_id", 79095012345, "079095012345", ["id_stored_as_number", "person_id_repaired"]),
        # a tax code that lost its zero: 0 + the nine digits is a valid MST again
        ("owner_id", int(MST), MST, ["id_stored_as_number", "business_id_repaired"]),
        # a phone is text, not an ID: the lost zero is not reported (as in the batch)
        ("contact_phone", 912345678, "912345678", []),
        # pandas does not count booleans as numbers: their text, nothing reported
        ("account_id", True, "True", []),
        ("channel", 1, math.nan, ["bad_enum"]),
    ],
)
def test_numbers_are_read_like_a_numeric_column(
    column: str, sent: object, expected: object, codes: list[str]
) -> None:
    raw: dict[str, object] = {"dossier_id": "H1", "procedure_code": "1", "unit_id": "U"}
    raw.update({"channel": "online", column: sent})
    values, issues = normalise_dossier(raw)
    assert same(values[column], expected)
    assert [i.code for i in issues if i.column == column] == codes
    assert_matches_reference(raw)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (2**63, "9223372036854775808"),
        (2**70, "1180591620717411303424"),
        (-(2**64), "-18446744073709551616"),
        (1e20, "100000000000000000000"),
        (float("inf"), "inf"),
    ],
)
def test_numbers_beyond_int64_do_not_crash(sent: object, expected: str) -> None:
    # a one-row batch fails on these (cannot cast to Int64) or, from 2**64 on,
    # silently takes them as text; the API gives every number the same treatment
    values, issues = normalise_dossier({"dossier_id": sent, "payer_token": sent})
    assert values["dossier_id"] == values["payer_token"] == expected
    assert [(i.code, i.column) for i in issues if i.code == "id_stored_as_number"] == [
        ("id_stored_as_number", "dossier_id"),
        ("id_stored_as_number", "payer_token"),
    ]


def test_text_that_is_not_unicode_is_a_contract_error() -> None:
    # json.loads('"\\ud800"') gives a lone surrogate, which no UTF-8 file can hold
    with pytest.raises(ContractError, match=r"dossiers\.owner_name: .*lone surrogate"):
        normalise_dossier({"dossier_id": "H1", "owner_name": "An\ud800"})


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-14T08:12:45+07:00",
        "2025-03-14 08:12:45+07:00",
        "2025-03-14T01:12:45Z",
        "2025-03-14T08:12:45.5+07:00",
        "2025-03-14T08:12:45.123456-05:30",
        "2025-03-14T08:12:45.123456789+07:00",  # nanoseconds: pandas keeps them
        "2025-03-14T08:12:45+0700",
        "2025-03-14T08:12:45",  # no offset: local time, reported
        "2025-03-14",
        "14/03/2025 08:12x",
        "2025-02-30T08:12:45+07:00",
        "1960-06-01T00:00:00+07:00",  # Saigon was UTC+8 then: the zone, not the offset
        "0999-01-01T00:00:00+07:00",
        "2025-01-01T10Z",
    ],
)
def test_timestamps_match_the_batch(text: str) -> None:
    assert_matches_reference({"submitted_at": text, "synced_at": text, "accepted_at": text})


# ---------------------------------------------------- the fast tests are conservative


def _fast_and_batch(column: Column, values: list[str]) -> None:
    """Every value the fast path accepts gets exactly the batch's value and no issue."""
    plan = tuple(step for step in _dossier_plan() if step[0] == column.name)
    accepted = []
    for v in values:
        fast, slow = fast_record({column.name: v}, plan)
        if not slow:
            accepted.append((v, fast[column.name]))
    assert accepted, f"{column.name}: the fast path accepted nothing"
    # one batch call over all accepted values: each row is normalised on its own
    series = pd.Series([v for v, _ in accepted], dtype=STR)
    batch, issues = normalise_column(series, DOSSIERS, column)
    assert issues == []
    for (v, got), want in zip(accepted, batch.tolist(), strict=True):
        assert same(got, want), f"{column.name}: {v!r} gave {got!r}, batch {want!r}"


#: every Unicode scalar value (surrogates cannot be UTF-8)
CODE_POINTS = [chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]
#: values padded or split by a code point ``c``, per column kind
PADDED = {
    "dossier_id": ["{c}H12{c}"],
    "owner_name": ["{c}Lê{c}An{c}"],
    "owner_id": ["{c}079 095{c}012345{c}", "{c}0100233488{c}001"],
    "channel": ["{c}Online{c}"],
    "ip": ["{c}2001:DB8::1{c}", "{c}1.2.3.4{c}", "fe80::1%{c}eth0{c}"],
    "submitted_at": ["{c}2025-03-14T08:12:45+07:00{c}", "2025-03-14T08:12:4{c}+07:00"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PADDED))
def test_no_code_point_fools_the_fast_path(name: str) -> None:
    # Python and Arrow disagree on what whitespace is (e.g. U+001C); a value
    # padded or split by any code point must still get the batch's answer
    values = [template.format(c=c) for template in PADDED[name] for c in CODE_POINTS]
    _fast_and_batch(DOSSIERS.column(name), values)


def test_ipv6_addresses_in_canonical_form_match_the_batch() -> None:
    _ipv6_value.cache_clear()
    addresses = [
        ipaddress.IPv6Address(n) for n in (0, 1, 2**64, 2**127 + 5, 0xFFFF << 32 | 0x01020304)
    ]
    texts = [f(a) for a in addresses for f in (str, lambda a: a.exploded, lambda a: str(a).upper())]
    _fast_and_batch(DOSSIERS.column("ip"), [*texts, "fe80::1%eth0", "fe80::1%eth0\t"])


# ------------------------------------------------------------- generated dirt


def _mixed_case(words: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda w, flips: "".join(c.upper() if f else c for c, f in zip(w, flips, strict=False)),
        words,
        st.lists(st.booleans(), min_size=20, max_size=20),
    )


def _padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pad = st.text(" \t\n\u00a0\u3000\x1c\u200b\ufeff", max_size=2)
    return st.builds(lambda a, v, b: a + v + b, pad, values, pad)


TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # no surrogates
#: numbers a one-row batch can hold (the rest: test_numbers_beyond_int64_do_not_crash)
NUMBERS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 10**13),
    st.floats(-1e18, 1e18),
    st.just(math.nan),
    st.booleans(),
)
DIGITS = st.from_regex(r"0{0,3}[0-9]{1,13}", fullmatch=True)
CCCD = st.builds(
    lambda p, rest: p + rest,
    st.sampled_from(sorted(VALID_PROVINCE_CODES)),
    st.from_regex(r"[0-9]{9}", fullmatch=True),
)
OWNER_IDS = st.one_of(
    CCCD,
    CCCD.map(lambda x: x[1:]),  # a spreadsheet dropped the zero
    CCCD.map(lambda x: x[2:]),
    CCCD.map(lambda x: f"{x[:3]} {x[3:6]} {x[6:]}"),
    CCCD.map(lambda x: f"{x[:3]}.{x[3:6]}-{x[6:]}"),
    st.sampled_from([MST, MST[1:], f"{MST}-001", f"{MST}001", f"{MST} 001", "0100233487"]),
    st.from_regex(r"[0-9]{9,14}", fullmatch=True),
    st.from_regex(r"[0-9]{10}-[0-9]{3}", fullmatch=True),
)
IDS = st.one_of(st.from_regex(r"[A-Z]{1,3}[0-9]{3,10}", fullmatch=True), DIGITS)


@st.composite
def timestamp_texts(draw: st.DrawFn) -> str:
    """ISO 8601 in the forms exports use, and the ones they should not."""
    m = draw(st.datetimes(dt.datetime(1600, 1, 1), dt.datetime(2299, 12, 31)))
    day = draw(
        st.sampled_from(
            [f"{m.year:04d}-{m.month:02d}-{m.day:02d}", f"{m.year}-{m.month}-{m.day}",
             f"{m.year:04d}{m.month:02d}{m.day:02d}"]
        )
    )  # fmt: skip
    clock = draw(
        st.sampled_from(
            [f"{m.hour:02d}:{m.minute:02d}:{m.second:02d}", f"{m.hour:02d}:{m.minute:02d}",
             f"{m.hour:02d}", f"{m.hour}:{m.minute:02d}:{m.second:02d}", "24:00:00", "23:59:60"]
        )
    )  # fmt: skip
    fraction = draw(st.sampled_from(["", ".5", ".123", ",5", ".123456", ".1234567", ".123456789"]))
    sign, hours, minutes = (
        draw(st.sampled_from("+-")),
        draw(st.integers(0, 25)),
        draw(st.integers(0, 61)),
    )
    offset = draw(
        st.sampled_from(
            ["", "", "Z", "z", "+07:00", "+0700", "+07", " +07:00", f"{sign}{hours:02d}:{minutes:02d}",
             f"{sign}{hours:02d}{minutes:02d}"]
        )
    )  # fmt: skip
    sep = draw(st.sampled_from(["T", "T", " ", "t", ""]))
    if draw(st.booleans()):
        return day
    return f"{day}{sep}{clock}{fraction}{offset}"


TIMESTAMPS = st.one_of(
    timestamp_texts(),
    st.sampled_from(["14/03/2025 08:12x", "2025-02-30T08:00:00+07:00", "2025-03-14+07:00"]),
    TEXT,
).filter(lambda s: s.strip().lower() not in ("now", "today"))  # pandas reads them as the clock
ZEROS_HEXTETS = st.lists(st.sampled_from([0, 0, 0, 1, 0xDB8, 0xFFFF]), min_size=8, max_size=8)
SPARSE_IPV6 = ZEROS_HEXTETS.map(
    lambda h: ipaddress.IPv6Address(int("".join(f"{x:04x}" for x in h), 16))
)
IPS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=4).map(lambda a: ".".join(f"{int(o):03d}" for o in str(a).split("."))),
    st.ip_addresses(v=6).map(str),
    SPARSE_IPV6.map(str),
    SPARSE_IPV6.map(lambda a: a.exploded),
    SPARSE_IPV6.map(lambda a: str(a).upper()),
    st.ip_addresses(v=6).map(lambda a: f"{a}%eth0"),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.sampled_from(["unknown", "300.12.1.1", "192.168.1", "::ffff:zz", "0", "1.2.3.4.5", "::"]),
)


def enums(allowed: tuple[str, ...]) -> st.SearchStrategy[str]:
    word = st.sampled_from(allowed)
    return st.one_of(
        word,
        _mixed_case(word),
        word.map(lambda w: w.replace("_", " ")),
        word.map(lambda w: w.replace("_", "-")),
        word.map(lambda w: f" {w.upper()} "),
        st.sampled_from(["web", "ONLİNE", "onlinе", "self_"]),  # Turkish İ, Cyrillic е
        TEXT,
    )


def values_for(column: Column) -> st.SearchStrategy[object]:
    """Dirty values for one column, by kind; None and numbers everywhere."""
    kind: dict[str, st.SearchStrategy[str]] = {
        "id": IDS,
        "str": st.one_of(TEXT, st.sampled_from(["Nguyễn Văn An", "NGUYEN VAN AN", "Vũ  Kim An"])),
        "owner_id": OWNER_IDS,
        "timestamp": TIMESTAMPS,
        "ip": IPS,
    }
    text = enums(column.values) if column.kind == "enum" else kind[column.kind]
    return st.one_of(st.none(), text, _padded(text), TEXT, NUMBERS)


def dossiers(columns: list[str]) -> st.SearchStrategy[dict[str, object]]:
    """Requests where each of ``columns`` may be absent, null or dirty."""
    return st.fixed_dictionaries({}, optional={c: values_for(DOSSIERS.column(c)) for c in columns})


def _clear_caches() -> None:
    timestamp_value.cache_clear()
    _ipv6_value.cache_clear()


@pytest.mark.slow
@settings(REPRODUCIBLE, max_examples=150)
@given(dossiers(COLUMNS))
def test_generated_dirty_dossiers_match_the_one_row_batch(raw: dict[str, object]) -> None:
    assert_matches_reference(raw)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind_columns",
    [
        ["dossier_id", "owner_name"],
        ["owner_id"],
        ["channel", "declared_relation", "attachment_kind"],
        ["submitted_at", "accepted_at"],
        ["ip"],
    ],
    ids=["id-str", "owner_id", "enum", "timestamp", "ip"],
)
@settings(REPRODUCIBLE, max_examples=60)
@given(data=st.data())
def test_generated_values_of_each_kind_match_the_one_row_batch(
    kind_columns: list[str], data: st.DataObject
) -> None:
    raw = data.draw(dossiers(kind_columns))
    assert_matches_reference(raw)


# --------------------------------------------------------------------- timing


def _median_us(call: Callable[[dict[str, object]], object], rows: list[dict[str, object]]) -> float:
    times = []
    for raw in rows:
        start = time.perf_counter_ns()
        call(raw)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def test_timing(export: pd.DataFrame) -> None:
    """Not an assertion: the median cost per dossier, printed (``pytest -s``)."""
    plan = _dossier_plan()
    rows = [as_request(cells) for cells in export.to_dict("records")]
    clean = [r for r in rows if not fast_record(r, plan)[1]]
    dirty = [r for r in rows if fast_record(r, plan)[1]][:100]
    later = ("synced_at", "received_by", "accepted_at")  # unknown at submission
    at_submission = [{c: v for c, v in r.items() if c not in later} for r in clean]
    _clear_caches()
    normalise_dossier(clean[0])  # the plan is built on the first call
    _clear_caches()
    results = {
        "clean, as exported": _median_us(normalise_dossier, clean[:3000]),
        "clean, at submission": _median_us(normalise_dossier, at_submission[3000:6000]),
        "dirty (some column through pandas)": _median_us(normalise_dossier, dirty),
        "one-row normalise_table": _median_us(reference, dirty[:20]),
    }
    for what, us in results.items():
        print(f"normalise_dossier timing: {what}: median {us:,.1f} µs")
    assert results["clean, as exported"] < results["one-row normalise_table"]
