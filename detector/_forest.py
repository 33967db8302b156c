"""Fitted ``HistGradientBoostingClassifier`` trees compiled to flat arrays, to score one row.

scikit-learn spends about a millisecond per ``predict_proba`` call on checks,
the column transformer and thread start-up, whatever the number of rows. This
module reads the fitted trees of several models once and evaluates all of them
for one row with a dozen numpy operations, giving the raw predictions
(baseline plus leaf values) bit for bit as ``_raw_predict`` does; copies of the
row that differ in a few columns reuse its evaluation (:meth:`Forest.partials`).

How a row finds its leaves (the QuickScorer idea, Lucchese et al., SIGIR 2015):
number each tree's leaves from left to right and give every split the bits of
the leaves in its left subtree. Evaluate every split of every tree at once and
OR, per tree, the bits of the splits the row takes to the right: those leaves
cannot be reached. The row's leaf is the first one not cleared, i.e. the count
of trailing ones: every leaf to its left lies in the left subtree of a split on
its path that the row leaves to the right, and its own bit is never cleared (a
split off its path does not have it below; one on its path sends the row to
the subtree that holds it). Trees may have at most 64 leaves.

What the trees read, as scikit-learn's predictor reads it
(``_predictor.pyx::_predict_one_from_raw_data``):

- the model's column transformer moves the categorical columns first and
  ordinal-encodes them by the sorted categories seen in training; an unseen
  category and a missing value both become NaN. Here a category is coded by
  its place in the column's declared categories, and each categorical split
  has a table over those codes that folds the model's own encoding in;
- a numeric split sends ``x <= threshold`` left and NaN by
  ``missing_go_to_left``;
- a categorical split sends a category in its bitset left, another known
  category right, and a missing or unknown one by ``missing_go_to_left``;
- the raw prediction is the baseline plus the leaf values of the iterations,
  added in that order (a running sum here, so the rounding is the same).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = ["MAX_LEAVES", "Forest", "RowLayout", "declared_codes"]

#: leaves per tree that one 64-bit word can hold
MAX_LEAVES = 64


def declared_codes(categories: Sequence[object]) -> dict[object, int]:
    """Category -> code, its place among the column's declared categories.

    The one coding of a category the trees' inputs use: one dossier's row here
    (:class:`RowLayout`), a frame's matrix in :func:`detector._tree_batch.encode`.
    """
    return {v: i for i, v in enumerate(categories)}


def _input_columns(model: HistGradientBoostingClassifier) -> NDArray[np.intp]:
    """For each column the trees read, the index of the input column it came from."""
    pre = model._preprocessor
    n = int(model.n_features_in_)
    if pre is None:
        return np.arange(n)
    out = np.full(n, -1, dtype=np.intp)
    for name, _, cols in pre.transformers_:
        where = pre.output_indices_[name]
        arr = np.asarray(cols)
        idx = np.flatnonzero(arr) if arr.dtype == bool else arr.astype(np.intp)
        if where.stop - where.start != len(idx):
            raise ValueError(f"cannot map the columns of transformer {name!r} of the trees")
        out[where] = idx
    if (out < 0).any():
        raise ValueError("some columns the trees read come from no input column")
    return out


def _categorical(model: HistGradientBoostingClassifier, n: int) -> NDArray[np.bool_]:
    found = getattr(model, "is_categorical_", None)
    return np.zeros(n, bool) if found is None else np.asarray(found, dtype=bool)


def _encoder_codes(model: HistGradientBoostingClassifier) -> dict[str, dict[object, int]]:
    """Per categorical column, the model's ordinal code of each category it saw in training."""
    if model._preprocessor is None:
        return {}
    enc = model._preprocessor.named_transformers_["encoder"]
    out = {}
    for col, cats in zip(enc.feature_names_in_, enc.categories_, strict=True):
        seen = [c for c in cats if isinstance(c, str) or c == c]  # NaN is no category
        out[str(col)] = {c: i for i, c in enumerate(seen)}
    return out


@dataclass(frozen=True)
class RowLayout:
    """The columns of models fitted on one frame, and how a dossier's values are coded.

    Attributes
    ----------
    columns : every input column, in the models' order.
    num_cols, cat_cols : the numeric and the categorical columns, each in that order.
    codes : per categorical column, category -> code (its place among the
        column's categories); a missing or other value gets ``len(codes[j])``.
    model_codes : per model and categorical column, the model's own ordinal code
        of each category it saw in training.
    """

    columns: tuple[str, ...]
    num_cols: tuple[str, ...]
    cat_cols: tuple[str, ...]
    codes: tuple[dict[object, int], ...]
    model_codes: tuple[dict[str, dict[object, int]], ...]

    @classmethod
    def of(
        cls,
        models: Sequence[HistGradientBoostingClassifier],
        categories: Mapping[str, Sequence[str]],
    ) -> RowLayout:
        """The layout of models fitted on the same columns with the same dtypes.

        Parameters
        ----------
        models : the fitted models.
        categories : the categories of every categorical column (those of its
            ``pd.CategoricalDtype``); a value outside them reads as missing.

        Raises
        ------
        ValueError
            When the models read different columns, or a categorical column
            has no categories given, or a model saw a category not among them.
        """
        first = models[0]
        columns = tuple(str(c) for c in first.feature_names_in_)
        is_cat = _categorical(first, len(columns))
        for m in models[1:]:
            same = tuple(str(c) for c in m.feature_names_in_) == columns
            if not same or not np.array_equal(_categorical(m, len(columns)), is_cat):
                raise ValueError("the models were not fitted on the same columns and dtypes")
        cat_cols = tuple(c for c, k in zip(columns, is_cat, strict=True) if k)
        num_cols = tuple(c for c, k in zip(columns, is_cat, strict=True) if not k)
        if missing := [c for c in cat_cols if c not in categories]:
            raise ValueError(f"no categories given for the categorical columns {missing}")
        codes = tuple(declared_codes(categories[c]) for c in cat_cols)
        model_codes = tuple(_encoder_codes(m) for m in models)
        for per_model in model_codes:
            for col, seen in per_model.items():
                if extra := sorted(str(v) for v in set(seen) - set(categories[col])):
                    raise ValueError(f"{col}: the model saw categories {extra} not declared")
        return cls(columns, num_cols, cat_cols, codes, model_codes)

    @property
    def width(self) -> int:
        """Entries per categorical split's table: the widest column's categories, plus missing."""
        return max((len(c) for c in self.codes), default=0) + 1


class Forest:
    """All trees of several fitted classifiers, evaluated together for one row.

    Parameters
    ----------
    models : fitted binary or multiclass ``HistGradientBoostingClassifier``.
    layout : the :class:`RowLayout` of the columns the models read.
    separate : columns whose splits in the first model's trees are kept apart
        by :meth:`partials`, so that a copy of a row with some of these
        columns changed is scored without walking the trees again.

    Attributes
    ----------
    blocks : one (model index, class index) per value of :meth:`raw`.
    n_trees, n_nodes : trees (with pseudo-trees for the baselines) and splits.

    Notes
    -----
    Every split becomes "go right when ``value > threshold``" over the row's
    values as :meth:`cleared` lays them out. All splits then cost one gather,
    one comparison, one multiplication and one ``reduceat``. A tree's leaf depends on the OR of its splits' cleared bits
    only, so the OR can be taken in parts (:meth:`partials`) and a part
    swapped for another row's (:meth:`raw_first`).
    """

    def __init__(
        self,
        models: Sequence[HistGradientBoostingClassifier],
        layout: RowLayout,
        separate: Sequence[str] = (),
    ) -> None:
        n_num = len(layout.num_cols)
        num_pos = {c: j for j, c in enumerate(layout.num_cols)}
        cat_pos = {c: j for j, c in enumerate(layout.cat_cols)}
        group_of = {c: g for g, c in enumerate(separate)}
        rest = len(separate)
        # tree, group, feature, threshold, left-leaf bits
        nodes: list[tuple[int, int, int, float, int]] = []
        tables: dict[tuple[int, bytes], int] = {}  # (column, table) -> value after the numbers
        cat_values: list[tuple[int, NDArray[np.float64]]] = []
        leaves: list[float] = []
        leaf_base: list[int] = []
        lengths: list[int] = []
        self.blocks: list[tuple[int, int]] = []
        most = 1

        def lone_leaf(value: float) -> None:  # a pseudo-tree; its split clears nothing
            nodes.append((len(leaf_base), rest, 0, 0.0, 0))
            leaf_base.append(len(leaves))
            leaves.append(value)

        for m, model in enumerate(models):
            inputs = _input_columns(model)
            known_bits, f_idx_map = (
                model._bin_mapper.make_known_categories_bitsets()
                if layout.cat_cols
                else (None, None)
            )
            baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
            for k in range(model.n_trees_per_iteration_):
                self.blocks.append((m, k))
                lengths.append(1 + len(model._predictors))
                # the baseline heads the block, so that a running sum adds baseline,
                # tree 1, tree 2, ... in scikit-learn's order
                lone_leaf(float(baseline[k]))
                for iteration in model._predictors:
                    splits, values = _tree_nodes(iteration[k])
                    most = max(most, len(values))
                    if not splits:
                        lone_leaf(values[0])
                        continue
                    tree = len(leaf_base)
                    leaf_base.append(len(leaves))
                    leaves.extend(values)
                    for feat, mgl, thr, bits, left in splits:
                        col = layout.columns[inputs[feat]]
                        group = group_of.get(col, rest) if m == 0 else rest
                        if left is not None:
                            assert known_bits is not None and f_idx_map is not None
                            c = cat_pos[col]
                            known = known_bits[f_idx_map[feat]]
                            right = _category_table(left, known, layout, m, c, mgl)
                            u = tables.setdefault((c, right.tobytes()), len(tables))
                            if u == len(cat_values):
                                cat_values.append((c, right))
                            nodes.append((tree, group, 3 * n_num + u, 0.5, bits))
                        elif thr == np.inf and not mgl:  # only a missing value goes right
                            nodes.append((tree, group, 2 * n_num + num_pos[col], 0.5, bits))
                        else:
                            j = num_pos[col] + (0 if not mgl else n_num)
                            nodes.append((tree, group, j, thr, bits))
            if m == 0:
                self._trees0, blocks0 = len(leaf_base), len(self.blocks)
        if most > MAX_LEAVES:
            raise ValueError(f"a tree has {most} leaves; at most {MAX_LEAVES} can be compiled")
        pad_tree = len(leaf_base)
        lone_leaf(0.0)  # what pads the shorter blocks for one running sum
        dtype = np.uint32 if most <= 32 else np.uint64
        nodes.sort(key=lambda r: (r[0], r[1]))
        trees = np.array([r[0] for r in nodes], dtype=np.intp)
        groups = np.array([r[1] for r in nodes], dtype=np.intp)
        self._feature = np.array([r[2] for r in nodes], dtype=np.intp)
        self._threshold = np.array([r[3] for r in nodes], dtype=np.float64)
        self._bits = np.array([r[4] for r in nodes], dtype=dtype)
        self._starts = _segments(trees)[0]
        # the first model's splits by (tree, group)
        self._n0 = n0 = int(np.searchsorted(trees, self._trees0))
        self._parts = _segments(trees[:n0], groups[:n0])
        self._groups = rest + 1
        self._cat_col = np.array([c for c, _ in cat_values], dtype=np.intp)
        self._cat_offset = np.arange(len(cat_values), dtype=np.intp) * layout.width
        self._tables = np.concatenate([t for _, t in cat_values]) if cat_values else np.zeros(0)
        self._leaves = np.asarray(leaves, dtype=np.float64)
        # the leaf is the count of trailing ones of the cleared bits, popcount(c ^ (c + 1)) - 1
        self._leaf_base = np.asarray(leaf_base, dtype=np.intp) - 1
        self._pad = _padding(lengths, pad_tree)
        self._shape0 = (blocks0, lengths[0])  # a model's blocks are all as long
        self._one = dtype(1)
        self._layout = layout
        self.n_trees = len(leaf_base)
        self.n_nodes = len(nodes)

    def cleared(self, x: NDArray[np.float64], codes: NDArray[np.intp]) -> NDArray[Any]:
        """Per split, the bits of the leaves it rules out for this row (0 when it goes left).

        Parameters
        ----------
        x : the row's numbers, ``num_cols`` order, NaN when missing.
        codes : the row's category codes, ``cat_cols`` order (see :attr:`RowLayout.codes`).

        Notes
        -----
        The splits read the numbers three ways: NaN as ``+inf`` (splits that
        send a missing value right), as is (NaN compares False: left), and
        whether each is NaN (scikit-learn's "split on NaN" nodes); then 1.0 or
        0.0 per distinct categorical split.
        """
        nan = np.isnan(x)
        if len(self._cat_col):
            right = self._tables[self._cat_offset + codes[self._cat_col]]
            values = np.concatenate((np.where(nan, np.inf, x), x, nan, right))
        else:
            values = np.concatenate((np.where(nan, np.inf, x), x, nan))
        return self._bits * (values.take(self._feature, mode="clip") > self._threshold)

    def raw(self, cleared: NDArray[Any]) -> NDArray[np.float64]:
        """Raw predictions per block, from :meth:`cleared`: what ``_raw_predict`` gives."""
        per_tree = np.bitwise_or.reduceat(cleared, self._starts)
        leaf = np.bitwise_count(per_tree ^ (per_tree + self._one))
        values = self._leaves[self._leaf_base + leaf]
        # accumulate adds strictly in order (a sum may pair terms): baseline, tree 1, ...
        return np.add.accumulate(values[self._pad], axis=1)[:, -1]

    def partials(self, cleared: NDArray[Any]) -> NDArray[Any]:
        """The row's cleared bits in the first model's trees, OR-ed per group and tree.

        Returns an array groups × trees: one group per ``separate`` column, then
        the rest; OR-ing a column gives the tree's cleared bits.
        """
        starts, tree, group = self._parts
        out = np.zeros((self._groups, self._trees0), dtype=self._bits.dtype)
        out[group, tree] = np.bitwise_or.reduceat(cleared[: self._n0], starts)
        return out

    def partials_at(self, values: Mapping[str, object]) -> NDArray[Any]:
        """:meth:`partials` for a row where the given columns take the given values.

        Only the groups of those columns are meaningful (other columns read as missing).
        """
        lay = self._layout
        x = np.array([values.get(c, np.nan) for c in lay.num_cols], dtype=np.float64)
        codes = np.array(
            [d.get(values.get(c), len(d)) for c, d in zip(lay.cat_cols, lay.codes, strict=True)],
            dtype=np.intp,
        )
        return self.partials(self.cleared(x, codes))

    def raw_first(self, per_tree: NDArray[Any]) -> NDArray[np.float64]:
        """The first model's raw predictions, rows × its blocks, from its trees' cleared bits."""
        leaf = np.bitwise_count(per_tree ^ (per_tree + self._one))
        values = self._leaves[self._leaf_base[: self._trees0] + leaf]
        return np.add.accumulate(values.reshape(len(values), *self._shape0), axis=2)[:, :, -1]


def _segments(*keys: NDArray[np.intp]) -> tuple[NDArray[np.intp], ...]:
    """Where runs of equal keys start (for ``reduceat``), then each run's keys."""
    change = np.zeros(len(keys[0]), dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    return (starts, *(k[starts] for k in keys))


def _padding(lengths: Sequence[int], pad_tree: int) -> NDArray[np.intp]:
    """Blocks × longest block: the trees of each block, then the tree worth 0.0."""
    out = np.full((len(lengths), max(lengths)), pad_tree, dtype=np.intp)
    start = 0
    for b, n in enumerate(lengths):
        out[b, :n] = np.arange(start, start + n)
        start += n
    return out


def _category_table(
    left: NDArray[np.uint32],
    known: NDArray[np.uint32],
    layout: RowLayout,
    model: int,
    col: int,
    mgl: bool,
) -> NDArray[np.float64]:
    """1.0 for each category code (``layout.codes``) that a categorical split sends right.

    The model codes the category by its own encoder; a category it never saw
    becomes NaN there and, like a missing value, goes where missing values go.
    Then as ``_predict_one_from_raw_data``: in the split's bitset, left; else
    a known category, right; else as missing.
    """
    missing = 0.0 if mgl else 1.0
    own = layout.model_codes[model].get(layout.cat_cols[col], {})
    right = np.full(layout.width, missing)
    for value, code in layout.codes[col].items():
        mine = own.get(value)
        if mine is None:
            continue
        if _in_bitset(left, mine):
            right[code] = 0.0
        else:
            right[code] = 1.0 if _in_bitset(known, mine) else missing
    return right


def _tree_nodes(
    predictor: Any,
) -> tuple[list[tuple[int, bool, float, int, NDArray[np.uint32] | None]], list[float]]:
    """One tree's splits and its leaf values, leaves numbered left to right.

    A split is (feature, missing goes left, threshold, bits of the leaves in
    its left subtree, and for a categorical split the bitset of the codes that
    go left).
    """
    nodes = predictor.nodes
    order: list[int] = []  # leaves, left to right
    stack = [0]
    while stack:
        i = stack.pop()
        if nodes["is_leaf"][i]:
            order.append(i)
        else:
            stack.extend((int(nodes["right"][i]), int(nodes["left"][i])))
    bit = {leaf: j for j, leaf in enumerate(order)}

    def below(i: int) -> int:
        if nodes["is_leaf"][i]:
            return 1 << bit[i]
        return below(int(nodes["left"][i])) | below(int(nodes["right"][i]))

    out = []
    for i in range(len(nodes)):
        if nodes["is_leaf"][i]:
            continue
        bits = below(int(nodes["left"][i]))
        mgl = bool(nodes["missing_go_to_left"][i])
        feat = int(nodes["feature_idx"][i])
        if nodes["is_categorical"][i]:
            left = predictor.raw_left_cat_bitsets[nodes["bitset_idx"][i]]
            out.append((feat, mgl, 0.0, bits, left))
        else:
            out.append((feat, mgl, float(nodes["num_threshold"][i]), bits, None))
    return out, [float(nodes["value"][leaf]) for leaf in order]


def _in_bitset(bitset: NDArray[np.uint32], value: int) -> bool:
    """``sklearn.utils._bitset.in_bitset``: 8 words of 32 bits."""
    return value < 32 * len(bitset) and bool((int(bitset[value // 32]) >> (value % 32)) & 1)
