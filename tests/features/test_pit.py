"""Point-in-time counters on small hand-made histories."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.pit import DAY, Count, Distinct, Last, NewDistinct, compute_counter

# one account "A" files for owners x, y, x, z on days 0, 1, 2, 40; account "B" once; one row has no account
HISTORY = pd.DataFrame(
    {
        "account_id": ["A", "A", "B", "A", np.nan, "A"],
        "owner_id": ["x", "y", "x", "x", "w", "z"],
        "ok": [True, False, True, True, True, True],
    }
)
T = np.array([0, 1, 1, 2, 3, 40]) * DAY


def run(counter, after: bool = False) -> list[float]:
    return compute_counter(HISTORY, counter, T, after=after).tolist()


def test_count_counts_only_strictly_earlier_events_with_the_same_key() -> None:
    # A's filings before each of A's rows: 0, 1, 2, 3; B has none before; unknown key -> NaN
    got = run(Count("n", "account_id"))
    assert got[:4] == [0, 1, 0, 2] and np.isnan(got[4]) and got[5] == 3


def test_count_in_a_window_forgets_old_events() -> None:
    # on day 40, A's events on days 0-2 are outside a 30-day window
    assert run(Count("n", "account_id", window=30 * DAY))[5] == 0


def test_count_where_counts_only_selected_events() -> None:
    # only rows with ok=True count: before day 2, A has one (day 0)
    assert run(Count("n", "account_id", where="ok"))[3] == 1


def test_distinct_counts_each_other_value_once() -> None:
    # before day 40, A served x and y (x twice): 2 distinct owners
    assert run(Distinct("d", "account_id", "owner_id"))[5] == 2


def test_new_distinct_counts_first_appearances_in_the_window() -> None:
    # on day 2, in the last 7 days A first served x (day 0) and y (day 1)
    got = run(NewDistinct("nd", "account_id", "owner_id", 7 * DAY))
    assert got[3] == 2
    # on day 40 nothing new in the last 7 days
    assert got[5] == 0


def test_last_gives_the_gap_to_the_previous_event() -> None:
    got = run(Last("l", "account_id"))
    assert np.isnan(got[0]) and got[1] == DAY and got[3] == DAY and got[5] == 38 * DAY


def test_after_counts_what_happened_later() -> None:
    # after day 0, A filed 3 more times
    assert run(Count("n", "account_id"), after=True)[0] == 3


def test_ties_in_time_do_not_count_for_each_other() -> None:
    frame = pd.DataFrame({"k": ["a", "a"], "o": ["x", "y"]})
    t = np.array([5, 5])
    assert compute_counter(frame, Count("n", "k"), t).tolist() == [0, 0]
    assert compute_counter(frame, Distinct("d", "k", "o"), t).tolist() == [0, 0]


def test_no_events_give_empty_counts_not_an_error() -> None:
    # a month without dossiers (a header-only dossiers file) is a history of nothing
    empty = HISTORY.iloc[0:0]
    t = np.zeros(0, np.int64)
    for counter in (
        Count("n", "account_id"),
        Count("n7", "account_id", window=7 * DAY, where="ok"),
        Distinct("owners", "account_id", "owner_id"),
        NewDistinct("new_owners", "account_id", "owner_id", window=30 * DAY),
        Last("gap", "account_id"),
    ):
        for after in (False, True):
            out = compute_counter(empty, counter, t, after=after)
            assert out.shape == (0,) and out.dtype == float, (counter, after)
