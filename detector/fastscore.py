"""One dossier scored in a fraction of a millisecond, with exactly the answer of ``score_frame``.

:meth:`Detector.score_frame <detector.scorer.Detector.score_frame>` takes
~100 ms for a single row: pandas and scikit-learn's checks cost far more than
the arithmetic. :meth:`FastScorer.score` takes 0.1-0.2 ms (three times that
for a flagged dossier, whose explanation scores ten altered copies), a third
of it in the rules. The scoring API answers one dossier at a time, so
:class:`FastScorer` reads a fitted :class:`~detector.scorer.Detector` once and
scores a plain mapping of feature values with numpy only, reproducing every
step of the frame path:

- the rules through :meth:`RuleSet.evaluate_one <detector.rules.RuleSet.evaluate_one>`,
  and their score as the product of ``1 - weight`` in rule-file order, the
  order :meth:`RuleSet.score <detector.rules.RuleSet.score>` multiplies in;
- the three gradient-boosted models compiled by :mod:`detector._forest`
  (identical raw predictions, bit for bit) and their links (``expit``,
  softmax) as scikit-learn computes them;
- the calibrated risk, the type probabilities, the type shown and the reasons
  through the frame path's own code, :mod:`detector._scoring`, on one row;
- the benefit of the doubt (:data:`~detector.model.INNOCENT`) and the
  explanation by ablation, both as a swap of the changed columns' part of
  each tree's evaluation instead of a second pass over the trees;
- the offline path (:data:`~detector.scorer.DECLARED_TYPE`).

``tests/detector/test_fastscore.py`` checks every row of the test province, at
both moments, against ``score_frame``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.validation import check_is_fitted

from detector._forest import Forest, RowLayout
from detector._lookalike import threshold_for
from detector._scoring import (
    GroupProba,
    Reason,
    calibrated_risk,
    explain,
    joined,
    shown_type,
    type_probabilities,
)
from detector.model import DOUBT_FROM, INNOCENT
from detector.rules import Hit
from detector.scorer import DECLARED_TYPE, REASON_LIST, Detector
from features import is_missing
from features.contract import MISUSE_TYPES, PROXY_TYPES
from features.defs import CATEGORIES

__all__ = ["FastScorer", "Reason", "RowScore"]

_P = {c: f"p_{c}" for c in PROXY_TYPES}  # the probability columns of score_frame


@dataclass(frozen=True)
class RowScore:
    """The score of one dossier: one row of ``score_frame``, with structured reasons."""

    risk_score: float
    proxy_type: str
    flagged: bool
    probabilities: dict[str, float]  # p_<proxy_type>, the six of them
    reasons: tuple[Reason, ...]  # the reason_list column
    #: the threshold this dossier was judged by (its owner's look-alike group's, detector._lookalike)
    threshold: float
    data_gaps: str = ""

    @cached_property
    def _joined(self) -> tuple[str, str, str]:
        """The reasons joined once: codes by ``;``, sentences by `` | `` (vi, en)."""
        return joined(self.reasons)

    @property
    def reason_codes(self) -> str:
        """The ``reasons`` column of ``score_frame``: codes joined by ``;``."""
        return self._joined[0]

    @property
    def reasons_vi(self) -> str:
        """The ``reasons_vi`` column: sentences joined by `` | ``."""
        return self._joined[1]

    @property
    def reasons_en(self) -> str:
        """The ``reasons_en`` column: sentences joined by `` | ``."""
        return self._joined[2]

    def as_row(self) -> dict[str, object]:
        """The row as ``score_frame`` writes it, under its column names."""
        return {
            "risk_score": self.risk_score,
            **self.probabilities,
            "flagged": self.flagged,
            "proxy_type": self.proxy_type,
            "data_gaps": self.data_gaps,
            "reasons": self.reason_codes,
            "reasons_vi": self.reasons_vi,
            "reasons_en": self.reasons_en,
            REASON_LIST: self.reasons,
        }


class FastScorer:
    """A fitted :class:`Detector`, compiled to score one dossier at a time.

    Parameters
    ----------
    detector : the fitted detector (one moment).
    categories : the categories of each categorical feature, as in the
        feature frame's dtypes (default :data:`features.defs.CATEGORIES`);
        another value reads as missing, as ``pd.Categorical`` makes it.

    Notes
    -----
    Compiling takes a fraction of a second and holds a few hundred kB of
    arrays. :meth:`score` keeps no state, so one instance serves concurrent
    requests; a pickled instance is its detector, compiled again on loading.
    The calibrator's matrix product runs on two rows or more, as it does on a
    frame: BLAS rounds a one-row product differently in the last bit.
    """

    def __init__(
        self, detector: Detector, categories: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        check_is_fitted(detector, "model_")
        self._source = (detector, categories)
        model = detector.model_
        self.at = detector.at
        self.threshold = float(detector.threshold_)
        self._by_group = detector.thresholds_by_group()
        self.columns = tuple(str(c) for c in detector.feature_names_in_)
        if tuple(str(c) for c in model.feature_names_in_) != self.columns:
            raise ValueError("the detector's model was fitted on other columns than the detector")
        trees: list[HistGradientBoostingClassifier] = [model.trees_]
        types = [t for t in (model.misuse_types_, model.legit_types_) if not isinstance(t, str)]
        self._layout = layout = RowLayout.of(trees + types, categories or CATEGORIES)
        self._num_cols, self._cat_cols = layout.num_cols, layout.cat_cols
        self._get_nums, self._get_cats = _getter(self._num_cols), _getter(self._cat_cols)
        self._cat_codes = layout.codes
        self._cat_missing = [len(d) for d in layout.codes]
        self._explain = [str(f) for f in detector.explain_features_]
        self._typical = detector.typical_
        innocent = [n for n in INNOCENT if n in self.columns]
        separate = list(dict.fromkeys(self._explain + innocent))
        self._forest = forest = Forest(trees + types, layout, separate)
        block_of = {mk: b for b, mk in enumerate(forest.blocks)}
        # rules
        self._ruleset = detector.ruleset_
        enabled = detector.ruleset_.enabled_rules_
        w = np.array([r.weight if r.proxy_type in MISUSE_TYPES else 0.0 for r in enabled])
        self._rule_keep: list[float] = (1.0 - w).tolist()
        self._rule_pos = {r.id: i for i, r in enumerate(enabled)}
        # calibrator
        cal = model.calibrator_
        if cal.coef_.shape != (1, 2) or len(cal.classes_) != 2:
            raise ValueError("the calibrator is not a binary logistic regression on two inputs")
        self._coef_t, self._b = cal.coef_.T, float(cal.intercept_[0])
        # types: per group (misuse, legitimate), its model's classes (or its one type), how
        # many, and where the model's raw values are
        self._types: list[tuple[tuple[str, ...], int, slice]] = []
        for t in (model.misuse_types_, model.legit_types_):
            if isinstance(t, str):  # one type only: it takes the group's whole share
                self._types.append(((t,), 0, slice(0)))
                continue
            m = 1 + types.index(t)
            first = block_of[(m, 0)]  # a model's blocks are consecutive, class by class
            where = slice(first, first + t.n_trees_per_iteration_)
            classes = tuple(str(c) for c in t.classes_)
            self._types.append((classes, len(classes), where))
        self._n_expit = 1 + max((b.start for _, n, b in self._types if n == 2), default=0)
        # benefit of the doubt: which values are gaps, and the trees' part for the innocent reading
        self._doubt = bool(model.benefit_of_doubt)
        self._innocent = [(n, INNOCENT[n][0], separate.index(n)) for n in innocent]
        self._innocent_parts = forest.partials_at({n: INNOCENT[n][1] for n in innocent})
        # ablation: the trees' part for each explanation feature at its typical value
        typical = {f: self._ablation_value(f) for f in self._explain}
        self._typical_parts = forest.partials_at(typical)[: len(self._explain)]

    def __reduce__(self) -> tuple[type[FastScorer], tuple[Detector, object]]:
        """Pickled as its detector, compiled again when unpickled (e.g. in a worker process)."""
        return type(self), self._source

    @classmethod
    def from_detector(
        cls, detector: Detector, categories: Mapping[str, Sequence[str]] | None = None
    ) -> FastScorer:
        """Compile a fitted detector (see the class docstring)."""
        return cls(detector, categories)

    def _ablation_value(self, feature: str) -> object:
        """The typical value as the frame path writes it into the column (see ``Detector._ablate``)."""
        value = self._typical[feature]
        if feature in self._cat_cols:
            return value if value in self._layout.codes[self._cat_cols.index(feature)] else np.nan
        return float(value)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ score
    def score(self, features: Mapping[str, object], data_gaps: str = "") -> RowScore:
        """Score one dossier exactly as ``Detector.score_frame`` scores its row.

        Parameters
        ----------
        features : a value for every feature of the detector: a float (NaN when
            unknown) for numbers and flags, a str (or NaN) for categorical features.
        data_gaps : the dossier's data gap codes, passed through.

        Raises
        ------
        ValueError
            When features of this detector are missing from ``features``.
        """
        values, x, codes = self._read(features)
        hits = self._ruleset.evaluate_one(values)
        rule_score = self._rule_score(hits)
        online = values["channel"] == "online"
        ablated: NDArray[np.float64] | None = None
        if online:
            cleared = self._forest.cleared(x, codes)
            raw = self._forest.raw(cleared)
            linked = expit(raw[: self._n_expit])  # misuse trees, a binary type model
            base = risk = self._risk_one(linked[:1], rule_score)
            gaps = self._gaps(values) if self._doubt and base >= DOUBT_FROM else []
            # the explanation's copies go with the innocent reading when a flag is likely
            if gaps or base >= self.threshold:
                lower, ablated = self._copies(cleared, gaps, base >= self.threshold, rule_score)
                if lower < risk:
                    risk = lower
            probs = self._probabilities(raw, linked, risk)
        else:  # desk and postal filings: no account to misuse; the declared relation tells the type
            risk = 0.0
            declared = DECLARED_TYPE.get(values["declared_relation"], "self")  # type: ignore[call-overload]
            probs = np.array([[float(c == declared) for c in PROXY_TYPES]])
        threshold = threshold_for(self._by_group, values["owner_age"])  # type: ignore[arg-type]
        flagged = risk >= threshold
        proxy_type = str(shown_type(probs, np.array([flagged]))[0])
        reasons: tuple[Reason, ...] = ()
        if flagged:
            if not online:  # a threshold of 0: score_frame explains even these by the model
                cleared = self._forest.cleared(x, codes)
                base = self._risk_one(expit(self._forest.raw(cleared)[:1]), rule_score)
                _, ablated = self._copies(cleared, [], True, rule_score)
            assert ablated is not None
            contrib = base - ablated
            reasons = explain(values, hits, proxy_type, contrib, self._explain, self._typical)
        return RowScore(
            risk, proxy_type, flagged, dict(zip(_P.values(), probs[0].tolist(), strict=True)),
            reasons, threshold, data_gaps or "",
        )  # fmt: skip

    def _copies(
        self,
        cleared: NDArray[np.uint32] | NDArray[np.uint64],
        gaps: list[int],
        explain: bool,
        rule_score: float,
    ) -> tuple[float, NDArray[np.float64]]:
        """Risks (without the doubt) of copies of the row that differ in a few features.

        Returns the risk of the innocent reading of the ``gaps`` (inf when
        there are none) and, when ``explain``, the risks of the explanation's
        copies (empty otherwise). A copy's trees are the row's, with the
        changed features' part of each tree swapped; all copies go through the
        trees' sums and the calibrator together.
        """
        parts = self._forest.partials(cleared)
        rows = []
        if gaps:
            innocent = parts.copy()
            innocent[gaps] = self._innocent_parts[gaps]
            rows.append(np.bitwise_or.reduce(innocent, axis=0)[None])
        if explain and self._explain:
            rows.append(self._ablation_rows(parts))
        if not rows:
            return math.inf, np.zeros(0)
        per_tree = rows[0] if len(rows) == 1 else np.concatenate(rows)
        risks = self._risk(self._forest.raw_first(per_tree)[:, 0], rule_score)
        return (float(risks[0]) if gaps else math.inf), risks[1 if gaps else 0 :]

    def _read(
        self, features: Mapping[str, object]
    ) -> tuple[Mapping[str, object], NDArray[np.float64], NDArray[np.intp]]:
        """The values as the frame holds them (other categories as NaN), numbers and codes."""
        try:
            nums, cats = self._get_nums(features), self._get_cats(features)
        except KeyError:
            missing = [c for c in self.columns if c not in features]
            raise ValueError(
                f"features missing for this detector ({self.at}): {missing[:5]}"
            ) from None
        try:
            x = np.array(nums, dtype=np.float64)
        except (TypeError, ValueError):  # None, pd.NA
            x = np.array([np.nan if is_missing(v) else v for v in nums], dtype=np.float64)
        codes = [
            d.get(v, n) for d, n, v in zip(self._cat_codes, self._cat_missing, cats, strict=True)
        ]
        values = features
        outside = [
            col
            for col, code, n, v in zip(self._cat_cols, codes, self._cat_missing, cats, strict=True)
            if code == n and not is_missing(v)
        ]
        if outside:  # not among the column's categories: missing, as pd.Categorical makes it
            values = {**features, **dict.fromkeys(outside, np.nan)}
        return values, x, np.array(codes, dtype=np.intp)

    def _rule_score(self, hits: list[Hit]) -> float:
        """Noisy-OR of the misuse hits, multiplied in rule-file order as ``RuleSet.score`` does.

        Two factors multiply exactly in any order; three or more go through the
        same reduction as the frame (``score_one`` multiplies by weight instead).
        """
        keep = [self._rule_keep[self._rule_pos[h.rule_id]] for h in hits]
        keep = [k for k in keep if k != 1.0]  # legitimate-type rules, or weight 0
        if len(keep) < 3:
            return 1.0 - (keep[0] * keep[1] if len(keep) == 2 else keep[0] if keep else 1.0)
        factors = np.ones((1, len(self._rule_keep)))
        for h in hits:
            i = self._rule_pos[h.rule_id]
            factors[0, i] = self._rule_keep[i]
        return float(1.0 - factors.prod(axis=1)[0])

    def _risk(self, raw: NDArray[np.float64], rule_score: float) -> NDArray[np.float64]:
        """The calibrated risk from the misuse trees' raw predictions, one per row."""
        return calibrated_risk(expit(raw), rule_score, self._coef_t, self._b)

    def _risk_one(self, p: NDArray[np.float64], rule_score: float) -> float:
        """The calibrated risk of the row, from ``expit`` of its raw prediction (one value)."""
        return float(calibrated_risk(p, rule_score, self._coef_t, self._b)[0])

    def _gaps(self, values: Mapping[str, object]) -> list[int]:
        """The trees' groups of the features whose value is a data gap (``MisuseModel._gap_mask``)."""
        return [
            g
            for name, unknown, g in self._innocent
            if (is_missing(values[name]) if unknown is None else values[name] == unknown)
        ]

    def _probabilities(
        self, raw: NDArray[np.float64], linked: NDArray[np.float64], risk: float
    ) -> NDArray[np.float64]:
        """The six class probabilities (PROXY_TYPES order, one row), as ``MisuseModel._proba``.

        Each type model's ``predict_proba`` is its link of the raw predictions
        (``linked`` is ``expit`` of the first ones, which covers a binary type
        model); :mod:`detector._scoring` does the rest.
        """
        groups: list[GroupProba] = []
        for classes, n, where in self._types:
            proba = None
            if n == 2:  # binary: HalfBinomialLoss.predict_proba
                p1 = linked[where.start]
                proba = np.array([[1 - p1, p1]])
            elif n:  # sklearn.utils.extmath.softmax, on one row
                r = raw[where]
                z = np.exp(r - max(r.tolist()))
                proba = (z / float(z.sum()))[None]
            groups.append((classes, proba))
        return type_probabilities(np.array([risk]), groups[0], groups[1])

    def _ablation_rows(
        self, parts: NDArray[np.uint32] | NDArray[np.uint64]
    ) -> NDArray[np.uint32] | NDArray[np.uint64]:
        """Per explanation feature, the trees' cleared bits with that feature at its typical value.

        Each copy differs from the row in one feature: its part of each tree
        is the typical value's, OR-ed with the row's parts for all other
        features (prefix and suffix ORs give "all but one" for every feature
        at once). ``Detector._ablate`` scores the same copies.
        """
        n = len(self._explain)  # the explanation features' groups come first
        own = parts[:n]
        before = np.bitwise_or.accumulate(own, axis=0)  # row j: features 0..j
        after = np.bitwise_or.accumulate(own[::-1], axis=0)[::-1]  # row j: features j..n-1
        per_tree = np.empty_like(own)
        per_tree[-1] = np.bitwise_or.reduce(parts[n:], axis=0)  # the rest
        per_tree[:-1] = after[1:] | per_tree[-1]
        per_tree[1:] |= before[:-1]
        per_tree |= self._typical_parts
        return per_tree


def _getter(keys: Sequence[str]) -> Callable[[Mapping[str, object]], tuple[object, ...]]:
    """``itemgetter`` that always gives a tuple (it gives the bare value for one key)."""
    if len(keys) == 1:
        key = keys[0]
        return lambda m: (m[key],)
    if not keys:
        return lambda m: ()
    return itemgetter(*keys)
