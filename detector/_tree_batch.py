"""Fitted ``HistGradientBoostingClassifier`` trees evaluated over many rows, block by block.

scikit-learn's ``predict_proba`` on a frame of categories spends its time in
two places this module avoids, with the same probabilities bit for bit:

- its column transformer maps each category to the model's ordinal code one
  element at a time in Python (``OrdinalEncoder``); here the frame becomes a
  matrix once per scoring (:func:`encode`: a category is its place among the
  column's declared categories, the code :class:`~detector._forest.RowLayout`
  gives one dossier's values), and each model's own codes are one table
  look-up per column (:class:`TreeInput`);
- it walks each tree over every row, so a matrix larger than the processor's
  cache is read from memory once per tree; here the rows go in blocks of
  :data:`BLOCK_ROWS` that stay in cache while every tree of every model
  walks them, the blocks shared among threads.

What the trees read is :mod:`detector._forest`'s: the model's column order
(categorical columns first), a category the model never saw or a missing one
as NaN. The raw prediction of a row is the baseline plus its leaf values in
iteration order, the sum ``_raw_predict`` makes, and the link is the model's
own loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from detector._forest import _categorical, _encoder_codes, _input_columns, declared_codes

__all__ = ["BLOCK_ROWS", "TreeInput", "encode", "predict_proba"]

#: rows per block: 4096 rows of ~90 features (3 MB) stay in cache while the trees walk them
BLOCK_ROWS = 4096
#: :func:`encode` writes this many columns at a time, in blocks of this many rows
_ENCODE_COLUMNS, _ENCODE_ROWS = 16, 16384


def encode(X: pd.DataFrame, categories: Mapping[str, Sequence[str]]) -> NDArray[np.float64]:
    """The frame as the trees' input matrix: numbers as floats, categories as their codes.

    Parameters
    ----------
    X : a feature frame; its categorical columns must be in ``categories``.
    categories : each categorical column's declared categories: a value is
        coded by its place among them (:func:`detector._forest.declared_codes`);
        a missing value or one outside them is NaN.

    Returns
    -------
    A C-ordered float64 matrix, rows × ``X``'s columns.
    """
    out = np.empty((len(X), X.shape[1]), dtype=np.float64)
    names = list(X.columns)
    # Written a few columns at a time, block of rows by block of rows: writing a whole column
    # of a row-major matrix touches a cache line of every row, once per column (3x slower at 1M).
    for first in range(0, len(names), _ENCODE_COLUMNS):
        group = [
            encode_column(X[c], categories.get(c)) for c in names[first : first + _ENCODE_COLUMNS]
        ]
        for start in range(0, len(X), _ENCODE_ROWS):
            block = out[start : start + _ENCODE_ROWS, first : first + len(group)]
            for j, values in enumerate(group):
                block[:, j] = values[start : start + _ENCODE_ROWS]
    return out


def encode_column(s: pd.Series, categories: Sequence[str] | None) -> NDArray[np.float64]:
    """One column of :func:`encode` (``categories`` None for a numeric column)."""
    if categories is None:
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    if not isinstance(s.dtype, pd.CategoricalDtype) or tuple(s.cat.categories) != tuple(categories):
        s = pd.Series(pd.Categorical(s.astype(object), categories=list(categories)))
    codes = s.cat.codes.to_numpy()
    return np.where(codes < 0, np.nan, codes.astype(np.float64))


class TreeInput:
    """How one fitted model reads a block of :func:`encode`'s matrix.

    Parameters
    ----------
    model : a fitted classifier.
    columns : the matrix's columns (the model's input columns, in its order).
    categories : the declared categories :func:`encode` coded with.

    Raises
    ------
    ValueError
        When the model was fitted on other columns.
    """

    def __init__(
        self,
        model: HistGradientBoostingClassifier,
        columns: Sequence[str],
        categories: Mapping[str, Sequence[str]],
    ) -> None:
        names = [str(c) for c in model.feature_names_in_]
        if names != [str(c) for c in columns]:
            raise ValueError("the model was fitted on other columns than the matrix holds")
        self._model = model
        self._take = _input_columns(model)
        is_cat = _categorical(model, len(names))
        own = _encoder_codes(model)
        # per tree column read from a categorical input: declared code -> the model's code
        self._tables: list[tuple[int, NDArray[np.float64]]] = []
        for j, i in enumerate(self._take):
            if not is_cat[i]:
                continue
            col = names[i]
            mine = own.get(col)
            codes = declared_codes(categories[col])
            table = np.full(len(codes) + 1, np.nan)  # the last entry: missing
            for value, code in codes.items():
                table[code] = np.nan if mine is None else mine.get(value, np.nan)
            if mine is None:  # fitted on codes: the trees read them as they are
                table[:-1] = np.arange(len(codes))
            self._tables.append((j, table))
        self._known, self._f_idx = model._bin_mapper.make_known_categories_bitsets()

    def read(self, block: NDArray[np.float64]) -> NDArray[np.float64]:
        """The model's input for a block of the matrix (its column order, its codes)."""
        x = block[:, self._take]
        for j, table in self._tables:
            codes = x[:, j]
            missing = np.isnan(codes)
            at = np.where(missing, len(table) - 1, codes).astype(np.intp)
            x[:, j] = table[at]
        return x

    def raw(self, block: NDArray[np.float64]) -> NDArray[np.float64]:
        """The raw predictions of a block, rows × trees per iteration (``_raw_predict``'s sums)."""
        model = self._model
        x = self.read(block)
        out = np.zeros((len(x), model.n_trees_per_iteration_), order="F")
        out += model._baseline_prediction
        for iteration in model._predictors:
            for k, predictor in enumerate(iteration):
                out[:, k] += predictor.predict(x, self._known, self._f_idx, 1)
        return out


def predict_proba(
    models: Sequence[HistGradientBoostingClassifier],
    Z: NDArray[np.float64],
    columns: Sequence[str],
    categories: Mapping[str, Sequence[str]],
) -> list[NDArray[np.float64]]:
    """Each model's ``predict_proba`` on the rows of :func:`encode`'s matrix ``Z``.

    The models walk each block of rows in turn while it is in cache; blocks
    are shared among as many threads as scikit-learn would use (the tree
    walk releases the GIL).

    Returns
    -------
    Per model, rows × classes, equal bit for bit to ``model.predict_proba``
    on the frame ``Z`` was encoded from.
    """
    readers = [TreeInput(m, columns, categories) for m in models]
    n = len(Z)
    raws = [np.empty((n, m.n_trees_per_iteration_), order="F") for m in models]
    starts = range(0, n, BLOCK_ROWS)

    def run(start: int) -> None:
        block = Z[start : start + BLOCK_ROWS]
        for reader, raw in zip(readers, raws, strict=True):
            raw[start : start + len(block)] = reader.raw(block)

    threads = min(_openmp_effective_n_threads(), len(starts))
    if threads <= 1:
        for s in starts:
            run(s)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, starts))
    return [_link(m, raw) for m, raw in zip(models, raws, strict=True)]


def _link(model: HistGradientBoostingClassifier, raw: NDArray[np.float64]) -> Any:
    """The probabilities from the raw predictions, as ``predict_proba`` computes them."""
    return model._loss.predict_proba(raw)
