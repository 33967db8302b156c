"""Reading timestamps from dirty exports: offsets, local time, words, mixtures (never a crash)."""

from __future__ import annotations

import pandas as pd
import pytest

from features.normalise import parse_timestamps


def _read(*texts: str | None) -> tuple[list[str], list[bool], list[bool]]:
    values, without_offset, bad = parse_timestamps(pd.Series(list(texts), dtype="str"))
    assert str(values.dtype) == "datetime64[ns, Asia/Ho_Chi_Minh]"
    return [str(v) for v in values], list(without_offset), list(bad)


def test_an_hour_only_offset_mixed_with_local_values_is_read_not_a_crash() -> None:
    # "T08Z" once slipped past the offset pattern; pandas then refused the mixed column
    values, without_offset, bad = _read("2025-03-14T08Z", "2025-03-14T08:12:45")
    assert values == ["2025-03-14 15:00:00+07:00", "2025-03-14 08:12:45+07:00"]  # 08Z = 15h local
    assert without_offset == [False, True] and bad == [False, False]


def test_an_offset_other_than_local_time_is_kept_not_dropped() -> None:
    # 08:00 at +09:00 is 06:00 in Vietnam; reading it as local 08:00 would move it two hours
    values, without_offset, _ = _read("2025-03-14T08+09", "2025-03-14T08:12:45", None)
    assert values[:2] == ["2025-03-14 06:00:00+07:00", "2025-03-14 08:12:45+07:00"]
    assert values[2] == "NaT" and without_offset == [False, True, False]


@pytest.mark.parametrize("word", ["now", "today", "yesterday", "NOW"])
def test_words_are_not_read_as_the_current_clock(word: str) -> None:
    values, _, bad = _read(word, "2025-03-14")
    assert values == ["NaT", "2025-03-14 00:00:00+07:00"]
    assert bad == [True, False]  # reported as unreadable, not taken as a moment


def test_out_of_range_years_are_unreadable_in_a_mixed_column() -> None:
    values, _, bad = _read("9999-03-14T08:12:45", "2025-03-14T08Z")
    assert values[0] == "NaT" and bad == [True, False]
