"""The block-wise evaluation of fitted trees gives scikit-learn's probabilities bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from detector._tree_batch import BLOCK_ROWS, encode, encode_column, predict_proba

CATS = ["red", "green", "blue", "grey", "purple"]  # purple is declared, never seen in training


def hand_made(n: int, seed: int) -> pd.DataFrame:
    """Categories with missing values, numbers with NaN and infinities."""
    rng = np.random.default_rng(seed)
    colour = rng.choice([*CATS[:4], None], n, p=[0.35, 0.3, 0.2, 0.05, 0.1])
    x = rng.normal(size=n)
    x[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "colour": pd.Categorical(colour, categories=CATS),
            "count": rng.integers(0, 5, n),
            "size": pd.Categorical(rng.choice(["s", "m", "l"], n), categories=["s", "m", "l"]),
        }
    )


@pytest.fixture(scope="module")
def models() -> tuple[pd.DataFrame, list[HistGradientBoostingClassifier]]:
    X = hand_made(3000, 7)
    rng = np.random.default_rng(8)
    signal = np.nan_to_num(X["x"].to_numpy(), nan=1.0) + (X["colour"] == "red").to_numpy()
    y = (signal + rng.normal(0, 0.5, len(X)) > 0.8).astype(int)
    labels = np.array(["no", "yes", "maybe"])[y + (rng.random(len(X)) < 0.2)]
    blue = (X["colour"] != "blue").to_numpy()  # a model that never saw "blue"
    fitted = [
        HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y),
        HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, labels),
        HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X[blue], y[blue]),
    ]
    return X, fitted


def test_probabilities_equal_sklearns_on_several_blocks(
    models: tuple[pd.DataFrame, list[HistGradientBoostingClassifier]],
) -> None:
    """More rows than a block, with infinities, unseen and missing categories.

    "purple" was never seen, "blue" not by the third model: both read as
    missing there, as scikit-learn's encoder makes them.
    """
    X, fitted = models
    test = hand_made(2 * BLOCK_ROWS + 123, 9)
    test.loc[::7, "x"] = np.inf
    test.loc[::11, "colour"] = "purple"
    categories = {"colour": CATS, "size": ["s", "m", "l"]}
    Z = encode(test, categories)
    got = predict_proba(fitted, Z, list(X.columns), categories)
    for model, p in zip(fitted, got, strict=True):
        assert np.array_equal(p, model.predict_proba(test))


def test_a_frame_with_other_categories_is_coded_by_the_declared_ones(
    models: tuple[pd.DataFrame, list[HistGradientBoostingClassifier]],
) -> None:
    """The frame's own categories in another order, one of them undeclared: coded by value."""
    X, fitted = models
    test = hand_made(500, 10)
    other = test.assign(colour=test["colour"].cat.set_categories(["grey", "blue", "red", "green"]))
    categories = {"colour": CATS, "size": ["s", "m", "l"]}
    Z = encode(other, categories)
    as_text = test.assign(colour=other["colour"].astype(object))
    assert np.array_equal(Z, encode(as_text, categories), equal_nan=True)
    assert np.isnan(Z[other["colour"].isna().to_numpy(), 1]).all()
    for model, p in zip(fitted, predict_proba(fitted, Z, list(X.columns), categories), strict=True):
        assert np.array_equal(p, model.predict_proba(other))


def test_no_rows_give_no_probabilities(
    models: tuple[pd.DataFrame, list[HistGradientBoostingClassifier]],
) -> None:
    X, fitted = models
    categories = {"colour": CATS, "size": ["s", "m", "l"]}
    got = predict_proba(fitted[:2], encode(X.iloc[:0], categories), list(X.columns), categories)
    assert [p.shape for p in got] == [(0, 2), (0, 3)]


def test_the_matrix_is_written_in_blocks_with_every_value_in_its_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Several groups of columns and blocks of rows, the last of each partial: the same matrix,
    row-major, as coding one column at a time."""
    monkeypatch.setattr("detector._tree_batch._ENCODE_COLUMNS", 3)
    monkeypatch.setattr("detector._tree_batch._ENCODE_ROWS", 100)
    frame = pd.concat([hand_made(1050, 11).add_suffix(f"_{k}") for k in range(2)], axis=1)
    categories = {
        f"{c}_{k}": v for k in range(2) for c, v in (("colour", CATS), ("size", list("sml")))
    }
    Z = encode(frame, categories)
    by_column = np.column_stack([encode_column(frame[c], categories.get(c)) for c in frame.columns])
    assert Z.flags.c_contiguous and Z.shape == (1050, 8)
    assert np.array_equal(Z, by_column, equal_nan=True)
