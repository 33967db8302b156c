"""``features.is_missing``: the one test of a missing scalar, for features, rules and the scorer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import is_missing


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        (None, True),
        (float("nan"), True),
        (np.float64("nan"), True),
        (np.float32("nan"), True),
        (pd.NA, True),
        (pd.NaT, True),
        (np.datetime64("NaT"), True),
        ("", False),  # an empty text is a value (the reader turns empty cells into None)
        ("unknown", False),
        (0, False),
        (0.0, False),
        (False, False),
        (np.int64(3), False),
        (pd.Timestamp("2025-01-01"), False),
        ([1, None], False),  # a list-like value is not a missing scalar
    ],
)
def test_what_counts_as_missing(value: object, missing: bool) -> None:
    assert is_missing(value) is missing
