"""Normalising once per distinct value gives what normalising every row gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import normalise
from features.contract import DOSSIERS, PEOPLE, Table
from features.normalise import normalise_column

REPRODUCIBLE = settings(deadline=None, derandomize=True, database=None, max_examples=60)

#: messy spellings of the columns' values, repeated so that distinct values are few
MESSY = {
    "owner_id": ["001085000123", "1085000123", " 001085000123 ", "0100233488", "0100233488001",
                 "abc", "", "79203000456"],
    "channel": ["online", "Online ", "ONLINE", "kiosk", "desk", "on-line", "postal", "web", ""],
    "ip": ["10.0.0.1", " 10.0.0.1", "2001:db8::1", "2001:DB8:0::1", "300.1.1.1", "x", ""],
    "person_id": ["001085000123", "1085000123", "0010850001", " 001085000123", "abc", ""],
}  # fmt: skip
TABLES: dict[str, Table] = {
    "owner_id": DOSSIERS,
    "channel": DOSSIERS,
    "ip": DOSSIERS,
    "person_id": PEOPLE,
}


def column_values(name: str) -> st.SearchStrategy[list[object]]:
    return st.lists(st.sampled_from([*MESSY[name], None, np.nan]), min_size=1, max_size=40)


def normalised(
    values: list[object], name: str, dtype: object
) -> tuple[pd.Series, list[tuple[str, list[int]]]]:
    table = TABLES[name]
    s = pd.Series(values, dtype=dtype, index=pd.RangeIndex(100, 100 + len(values)))
    out, issues = normalise_column(s, table, table.column(name))
    return out, [(i.code, list(i.rows)) for i in issues]


@pytest.mark.parametrize("dtype", [object, "str"])
@pytest.mark.parametrize("name", list(MESSY))
def test_once_per_distinct_value_equals_every_row(name: str, dtype: object) -> None:
    @REPRODUCIBLE
    @given(values=column_values(name))
    def check(values: list[object]) -> None:
        once = normalised(values, name, dtype)
        every = None
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(normalise, "DISTINCT_SHARE", -1.0)  # every column row by row
            every = normalised(values, name, dtype)
        pd.testing.assert_series_equal(once[0], every[0], check_exact=True)
        assert once[1] == every[1]

    check()


def test_repeated_values_take_the_distinct_path() -> None:
    seen: list[int] = []

    def fn(s: pd.Series) -> tuple[pd.Series]:
        seen.append(len(s))
        return (s.str.upper(),)

    s = pd.Series(["a", "b", "a", None, "b", "a"], dtype="str")
    (out,) = normalise.on_distinct(fn, s)
    assert seen == [3]  # a, b and unknown
    assert out.tolist()[:3] == ["A", "B", "A"] and pd.isna(out.iloc[3])
    assert out.index.equals(s.index)
