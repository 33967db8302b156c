"""The misuse model: gradient-boosted trees over the feature set, calibrated on later months.

``MisuseModel`` is a scikit-learn estimator. ``fit(X, y, t)`` takes the
feature frame, the labels (``proxy_type``; NaN = unlabelled, ignored) and the
submission times; it

1. holds out the latest ``calibration_share`` of the labelled history (by time,
   never shuffled across months) and fits a multiclass
   ``HistGradientBoostingClassifier`` on the rest, downsampling the abundant
   ``self`` class with compensating weights;
2. on the held-out part, fits the stacking calibrator: a logistic regression of
   misuse on the trees' misuse log-odds and the rule score, so rules and model
   make one calibrated ``risk_score``;
3. optionally refits the trees on all labelled rows (``refit``).

Reviewers disagree and make mistakes, so labels are not all right. With
``prune_noise`` (the default), before step 1 the trees are fitted twice on
halves of the earlier part and each half is scored by the other half's trees;
a label its out-of-fold score contradicts is set aside, from the trees and
from the calibrator alike. What "contradicts" means is read off the scores
themselves (:func:`noise_cuts`): trees fitted on noisy labels give clear
legitimate dossiers the noise's floor (about the share of legitimate
dossiers labelled misuse) instead of zero, and clear misuse its ceiling; a
"misuse" label scored within a few floors of zero, or a legitimate one
within a few ceilings' worth of one, is set aside. The share set aside is the
label-noise estimate in ``label_noise_``; past :data:`NOISY_SHARE` the trees
also grow larger leaves (:data:`NOISY_LEAF_FACTOR`), so that the wrong labels
the cut missed cannot each carve a leaf of their own. A clean label file loses
a few rows (hard cases the trees cannot see); a file with one label in ten wrong loses
most of its wrong ones, and the precision target can be judged again.

Data gaps never raise a score on their own: a dossier with unknown values
that come from missing data (see :data:`INNOCENT`) is also scored with those
values set to their innocent reading (an unknown relation read as "a
relative", a missing device as "not shared"), and the lower of the two scores
is kept (benefit of the doubt, as HCMC asked for officers working on
incomplete data).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from detector import _binning
from detector._forest import declared_codes
from detector._scoring import (
    calibrated_risk,
    misuse_logit,
    shown_type,
    type_probabilities,
)
from detector._tree_batch import encode, encode_column, predict_proba
from features.contract import MISUSE_TYPES, PROXY_TYPES
from features.defs import ALL_FEATURES, CATEGORIES

#: features whose unknown value comes from missing data, and the innocent value tried instead
#: (declared with each feature, ``innocent=``). Structural unknowns (a living owner's "days
#: since death", a first use's idle time) are not here.
INNOCENT: dict[str, tuple[object, object]] = {
    f.name: f.innocent for f in ALL_FEATURES.values() if f.innocent is not None
}
#: the second, innocent scoring only runs where it could change a decision
DOUBT_FROM = 0.02
#: the narrowest cuts for a contradicted label (clean labels: scores near 0 and 1)
NOISE_LOW, NOISE_HIGH = 0.02, 0.98
#: past this share of labels set aside, the labels are noisy: the trees' leaves grow by the factor
NOISY_SHARE, NOISY_LEAF_FACTOR = 0.01, 5
#: the fewest labelled rows (and misuse labels) for which a noise estimate means anything
NOISE_MIN_ROWS, NOISE_MIN_MISUSE = 400, 20


# weighted fits bin their features in one pass per feature, with the same bins (detector._binning)
_binning.install()


def _without_empty_columns(X: pd.DataFrame) -> pd.DataFrame:
    """``X`` with its all-unknown numeric columns set to 0 (for fitting only).

    scikit-learn's binning fails on a numeric column with no known value
    ("window shape cannot be larger than input array shape"): a small label
    sample can leave a rare feature (days since the owner's death) unknown on
    every row. As a constant the column cannot be split on, which is what an
    all-unknown column means; at prediction its real values change nothing.
    """
    empty = [
        c
        for c in X.columns
        if not isinstance(X[c].dtype, pd.CategoricalDtype) and X[c].isna().all()
    ]
    if not empty:
        return X
    out = X.copy()
    out[empty] = 0.0
    return out


class MisuseModel(ClassifierMixin, BaseEstimator):
    """Predicts ``proxy_type`` and a calibrated misuse probability (see module docstring).

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, l2_regularization, min_samples_leaf :
        passed to ``HistGradientBoostingClassifier``.
    self_keep : share of ``self`` rows kept for the trees (weighted back), for speed.
    calibration_share : latest share of the labelled history used for calibration.
    benefit_of_doubt : score data gaps innocently too and keep the lower score.
    refit : refit the trees on all labelled rows after calibration (slower; the
        calibrator was fitted on the earlier trees, so off by default).
    prune_noise : set aside labels that out-of-fold scores contradict (module docstring).
    random_state : seed of every random choice.
    """

    def __init__(
        self,
        max_iter: int = 150,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        l2_regularization: float = 1.0,
        min_samples_leaf: int = 20,
        self_keep: float = 0.2,
        calibration_share: float = 0.2,
        benefit_of_doubt: bool = True,
        refit: bool = False,
        prune_noise: bool = True,
        random_state: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.min_samples_leaf = min_samples_leaf
        self.self_keep = self_keep
        self.calibration_share = calibration_share
        self.benefit_of_doubt = benefit_of_doubt
        self.refit = refit
        self.prune_noise = prune_noise
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def _trees(self, max_iter: int | None = None) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=max_iter or self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization,
            # larger leaves once labels were found noisy: a leaf can no longer fit one wrong label
            min_samples_leaf=getattr(self, "min_samples_leaf_", self.min_samples_leaf),
            categorical_features="from_dtype",
            early_stopping=False,
            random_state=self.random_state,
        )

    def _fit_trees(
        self, X: pd.DataFrame, y: pd.Series, w: np.ndarray, rng: np.random.Generator
    ) -> tuple[Any, Any, Any]:
        """The misuse trees (binary), and the type trees within misuse and within legitimate.

        One binary model drives the risk (one tree per iteration instead of
        six); the two small type models only split that risk between types.
        """
        X = _without_empty_columns(X)
        misuse = y.isin(MISUSE_TYPES).to_numpy()
        binary = self._trees().fit(X, misuse, sample_weight=w)
        within = []
        for rows, cap in ((misuse, None), (~misuse, 60_000)):
            idx = np.flatnonzero(rows)
            if cap is not None and len(idx) > cap:
                idx = np.sort(rng.choice(idx, cap, replace=False))
            labels = y.iloc[idx]
            if labels.nunique() < 2:
                within.append(str(labels.iloc[0]))
            else:
                model = self._trees(max(30, self.max_iter // 3))
                within.append(model.fit(X.iloc[idx], labels, sample_weight=w[idx]))
        return binary, within[0], within[1]

    def _sample(self, y: pd.Series, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        keep = (y != "self").to_numpy() | (rng.random(len(y)) < self.self_keep)
        weight = np.where(y.to_numpy() == "self", 1.0 / self.self_keep, 1.0)
        return keep, weight

    def fit(
        self,
        X: pd.DataFrame,
        y: pd.Series,
        t: pd.Series | None = None,
        rule_score: pd.Series | None = None,
        calibrate: pd.Series | None = None,
        sample_weight: pd.Series | None = None,
    ) -> MisuseModel:
        """Fit on labelled rows of ``X`` (``y`` NaN rows are ignored).

        Parameters
        ----------
        X : feature frame (``FeatureFrame.frame``).
        y : ``proxy_type`` per row, aligned with ``X``.
        t : submission times, for the time-ordered calibration split (default: row order).
        rule_score : the rule engine's score per row (0 when no rule applies).
        calibrate : rows whose labels may calibrate (default: all). Labels the
            review queue chose (verdicts on its top) are not a sample of the
            dossiers: they train the trees, but calibrating on them would skew
            the risk and the threshold towards misuse.
        sample_weight : per row, how much its label counts for the trees (default 1):
            verdicts drawn by the queue's exploration carry the inverse of
            their chance of being drawn, a province's own labels count more
            than simulated ones.

        Raises
        ------
        ValueError
            Unknown labels, too few labels, or calibration months holding one class only.
        """
        self.__dict__.pop("min_samples_leaf_", None)  # a refit starts from the given leaves
        if not 0 < self.self_keep <= 1 or not 0 < self.calibration_share < 0.5:
            raise ValueError("self_keep must be in (0, 1] and calibration_share in (0, 0.5)")
        labelled = y.notna().to_numpy()
        bad = set(y[labelled].unique()) - set(PROXY_TYPES)
        if bad:
            raise ValueError(f"unknown proxy_type labels: {sorted(bad)}")
        if labelled.sum() < 100 or y[labelled].isin(MISUSE_TYPES).sum() < 10:
            raise ValueError("too few labelled dossiers to train (need 100, of which 10 misuse)")
        rng = np.random.default_rng(self.random_state)
        self.feature_names_in_ = np.array(X.columns)
        self.categories_ = {
            str(c): tuple(X[c].cat.categories)
            for c in X.columns
            if isinstance(X[c].dtype, pd.CategoricalDtype)
        }
        # every row labelled (a province's year): the frames as they are, not a copy of each
        Xl, yl = (X, y) if labelled.all() else (X[labelled], y[labelled])
        tl = t[labelled] if t is not None else pd.Series(np.arange(len(y)), index=y.index)[labelled]
        rs = (
            rule_score[labelled] if rule_score is not None else pd.Series(0.0, index=yl.index)
        ).to_numpy(float)
        times = tl.to_numpy()
        if isinstance(tl.dtype, pd.DatetimeTZDtype):  # instants, not an array of Timestamp objects
            times = tl.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        order = np.argsort(times, kind="stable")
        eligible = (
            calibrate[labelled].to_numpy(bool)
            if calibrate is not None and calibrate[labelled].any()
            else np.ones(len(yl), bool)
        )
        candidates = order[eligible[order]]  # time order, calibration-eligible rows only
        n_cal = int(len(candidates) * self.calibration_share)
        cal_idx = candidates[len(candidates) - n_cal :]
        fit_idx = order[~np.isin(order, cal_idx)]  # the rest, in time order
        given = (
            np.ones(len(yl)) if sample_weight is None else sample_weight[labelled].to_numpy(float)
        )
        # 0. labels that out-of-fold scores contradict (module docstring)
        suspect = np.zeros(len(yl), bool)
        cuts = (NOISE_LOW, NOISE_HIGH)
        if self.prune_noise:
            suspect[fit_idx], cuts = self._suspects(
                Xl.iloc[fit_idx], yl.iloc[fit_idx], given[fit_idx], rng
            )
        fit_idx = fit_idx[~suspect[fit_idx]]
        noisy = suspect.sum() > NOISY_SHARE * len(yl)
        self.min_samples_leaf_ = self.min_samples_leaf * (NOISY_LEAF_FACTOR if noisy else 1)
        target = yl.iloc[cal_idx].isin(MISUSE_TYPES).to_numpy()
        if n_cal == 0 or target.all() or not target.any():
            raise ValueError(
                f"the latest {self.calibration_share:.0%} of the calibration-eligible labels "
                f"({n_cal} dossiers) hold "
                + ("no label" if n_cal == 0 else "misuse only" if target.all() else "no misuse")
                + ": the risk cannot be calibrated; label a sample of recent dossiers, "
                "not only flagged ones"
            )
        # 1. trees on the earlier part
        keep, w = self._sample(yl.iloc[fit_idx], rng)
        w = w * given[fit_idx]
        Xa, ya, wa = self._augment(Xl.iloc[fit_idx[keep]], yl.iloc[fit_idx[keep]], w[keep])
        early = self._fit_trees(Xa, ya, wa, rng)
        # 2. stacking calibrator on the later part, without the labels its trees contradict
        p_cal = self._tree_proba(self.encode(Xl.iloc[cal_idx]), [early[0]])[0][:, 1]
        features_cal = np.c_[misuse_logit(p_cal), rs[cal_idx]]
        trusted = np.ones(len(cal_idx), bool)
        if self.prune_noise:
            trusted = ~_contradicted(p_cal, target, cuts)
            if target[trusted].all() or not target[trusted].any():
                trusted[:] = True  # too few left to calibrate: keep every label
            suspect[cal_idx] = ~trusted
        self.calibrator_ = LogisticRegression(C=10.0).fit(
            features_cal[trusted], target[trusted], sample_weight=given[cal_idx][trusted]
        )
        # out-of-sample risk on the calibration months: where thresholds and metrics are judged
        self.calibration_risk_ = self.calibrator_.predict_proba(features_cal[trusted])[:, 1]
        self.calibration_target_ = target[trusted]
        # which rows of X they are, and how much each counts (for the look-alike groups' thresholds)
        self.calibration_rows_ = np.flatnonzero(labelled)[cal_idx[trusted]]
        self.calibration_weight_ = given[cal_idx][trusted]
        self.label_noise_ = _noise_estimate(yl, suspect, self.prune_noise) | {
            "cuts": [round(c, 4) for c in cuts]
        }
        # 3. optionally, trees on everything (the calibrator was fitted on the earlier trees)
        if self.refit:
            rows = np.flatnonzero(~suspect)
            keep, w = self._sample(yl.iloc[rows], rng)
            w = w * given[rows]
            Xa, ya, wa = self._augment(Xl.iloc[rows[keep]], yl.iloc[rows[keep]], w[keep])
            early = self._fit_trees(Xa, ya, wa, rng)
        self.trees_, self.misuse_types_, self.legit_types_ = early
        self.classes_ = np.array(PROXY_TYPES)
        return self

    def _suspects(
        self, X: pd.DataFrame, y: pd.Series, given: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[float, float]]:
        """Labels contradicted by out-of-fold scores (two folds, lighter trees), and the cuts.

        Too few labels to judge (:data:`NOISE_MIN_ROWS`, :data:`NOISE_MIN_MISUSE`)
        give no suspect: with a few hundred labels each one matters more than
        what two half-models would say about it.
        """
        misuse = y.isin(MISUSE_TYPES).to_numpy()
        none = np.zeros(len(y), bool), (NOISE_LOW, NOISE_HIGH)
        if len(y) < NOISE_MIN_ROWS or misuse.sum() < NOISE_MIN_MISUSE:
            return none
        fold = rng.random(len(y)) < 0.5
        score = np.empty(len(y))
        for part in (fold, ~fold):
            train = np.flatnonzero(~part)
            keep, w = self._sample(y.iloc[train], rng)
            rows = train[keep]
            if misuse[rows].all() or not misuse[rows].any():
                return none
            trees = self._trees(max(40, self.max_iter // 3)).fit(
                _without_empty_columns(X.iloc[rows]),
                misuse[rows],
                sample_weight=(w * given[train])[keep],
            )
            idx = np.flatnonzero(part)
            score[idx] = self._tree_proba(self.encode(X.iloc[idx]), [trees])[0][:, 1]
        cuts = noise_cuts(score)
        return _contradicted(score, misuse, cuts), cuts

    def _augment(
        self, X: pd.DataFrame, y: pd.Series, w: np.ndarray
    ) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
        """Add, for rows with data gaps, a copy read innocently with the same label.

        The trees then learn that the other evidence still counts when a gap is
        read innocently, so the benefit of the doubt at scoring time removes
        only what the gap itself contributed.
        """
        if not self.benefit_of_doubt:
            return X, y, w
        gaps = self._gap_mask(self.encode(X))
        rows = gaps.any(axis=1)
        if not rows.any():
            return X, y, w
        copy = self._innocent_frame(X[rows], gaps[rows])
        return pd.concat([X, copy]), pd.concat([y, y[rows]]), np.r_[w, w[rows]]

    # ------------------------------------------------------------------ predict
    def _declared(self) -> dict[str, tuple[str, ...]]:
        """Each categorical column's categories, whose places code it for the trees."""
        found: dict[str, tuple[str, ...]] | None = getattr(self, "categories_", None)
        if found is None:  # fitted before the categories were kept: the registry's, as then
            is_cat = np.asarray(self.trees_.is_categorical_, bool)
            names = [str(c) for c in self.feature_names_in_]
            found = {c: CATEGORIES[c] for c, k in zip(names, is_cat, strict=True) if k}
        return found

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """The trees' input for the rows of ``X``: :func:`detector._tree_batch.encode`.

        Encode a frame once and pass the matrix (``encoded=``) to the methods
        that score its rows, so that the risk, the types, the benefit of the
        doubt and the explanation read one matrix.
        """
        return encode(X[self.feature_names_in_], self._declared())

    def encode_values(self, name: str, values: pd.Series) -> np.ndarray:
        """Values of one column as :meth:`encode` codes them."""
        return encode_column(values, self._declared().get(name))

    def _tree_proba(self, Z: np.ndarray, models: list[Any]) -> list[np.ndarray]:
        """Each fitted model's ``predict_proba`` on an encoded matrix (bit for bit)."""
        return predict_proba(models, Z, [str(c) for c in self.feature_names_in_], self._declared())

    def _calibrated(self, p: np.ndarray, rule_score: np.ndarray) -> np.ndarray:
        """The calibrated risk of each row (:func:`detector._scoring.calibrated_risk`)."""
        cal = self.calibrator_
        return calibrated_risk(p, rule_score, cal.coef_.T, float(cal.intercept_[0]))

    def _risk(self, Z: np.ndarray, rule_score: np.ndarray) -> np.ndarray:
        return self._calibrated(self._tree_proba(Z, [self.trees_])[0][:, 1], rule_score)

    def risk_without_doubt(
        self, X: pd.DataFrame, rule_score: np.ndarray, encoded: np.ndarray | None = None
    ) -> np.ndarray:
        """The calibrated risk as the features say, without the benefit of the doubt (for explanations).

        ``encoded``: :meth:`encode` of ``X``, when the caller has it already.
        """
        check_is_fitted(self, "trees_")
        Z = self.encode(X) if encoded is None else encoded
        return self._risk(Z, np.asarray(rule_score, float))

    def predict_risk(
        self,
        X: pd.DataFrame,
        rule_score: pd.Series | np.ndarray | None = None,
        encoded: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Calibrated misuse probability and per-class probabilities.

        Returns a frame on ``X``'s index: ``risk_score``, ``p_<proxy_type>`` for the
        six types, and ``doubt_lowered`` (the score was lowered because of unknown values).
        ``encoded``: :meth:`encode` of ``X``, when the caller has it already.
        """
        check_is_fitted(self, "trees_")
        Z = self.encode(X) if encoded is None else encoded
        rs = np.zeros(len(X)) if rule_score is None else np.asarray(rule_score, float)
        groups = (self.misuse_types_, self.legit_types_)
        types = [m for m in groups if not isinstance(m, str)]
        # the three models in one pass over the rows
        p, *type_p = self._tree_proba(Z, [self.trees_, *types])
        risk = self._calibrated(p[:, 1], rs)
        lowered = np.zeros(len(X), bool)
        if self.benefit_of_doubt:
            gaps = self._gap_mask(Z) & (risk >= DOUBT_FROM)[:, None]
            rows = gaps.any(axis=1)
            if rows.any():
                risk2 = self._risk(self._innocent(Z[rows], gaps[rows]), rs[rows])
                better = risk2 < risk[rows]
                idx = np.flatnonzero(rows)[better]
                risk[idx] = risk2[better]
                lowered[idx] = True
        found = iter(type_p)
        misuse, legit = (
            ((model,), None)
            if isinstance(model, str)  # the group held one type in training
            else (tuple(str(c) for c in model.classes_), next(found))
            for model in groups
        )
        proba = type_probabilities(risk, misuse, legit)
        out = pd.DataFrame({"risk_score": risk}, index=X.index)
        for i, c in enumerate(PROXY_TYPES):
            out[f"p_{c}"] = proba[:, i]
        out["doubt_lowered"] = lowered
        return out

    def _innocent_values(self) -> list[tuple[int, str, float, float]]:
        """Per INNOCENT feature among the columns: its place, name, and unknown and innocent codes."""
        names = [str(c) for c in self.feature_names_in_]
        out = []
        for name, (unknown, innocent) in INNOCENT.items():
            if name in names:
                code = self._code(name, unknown), self._code(name, innocent)
                out.append((names.index(name), name, *code))
        return out

    def _code(self, name: str, value: object) -> float:
        """One value of a column as :meth:`encode` codes it (None: missing)."""
        if value is None:
            return np.nan
        cats = self._declared().get(name)
        if cats is None:
            return float(value)  # type: ignore[arg-type]
        return float(declared_codes(cats).get(value, np.nan))

    def _gap_mask(self, Z: np.ndarray) -> np.ndarray:
        """Rows × INNOCENT features: True where the value is unknown because data is missing."""
        cols = [
            np.isnan(Z[:, j]) if np.isnan(unknown) else Z[:, j] == unknown
            for j, _, unknown, _ in self._innocent_values()
        ]
        return np.column_stack(cols) if cols else np.zeros((len(Z), 0), bool)

    def _innocent(self, Z: np.ndarray, gaps: np.ndarray) -> np.ndarray:
        """The rows of an encoded matrix with their gaps read innocently."""
        out = Z.copy()
        for k, (j, _, _, innocent) in enumerate(self._innocent_values()):
            out[gaps[:, k], j] = innocent
        return out

    def _innocent_frame(self, X: pd.DataFrame, gaps: np.ndarray) -> pd.DataFrame:
        """:meth:`_innocent` on a frame (the copies the trees are fitted on)."""
        out = X.copy()
        for k, (_, name, _, _) in enumerate(self._innocent_values()):
            if gaps[:, k].any():
                col = out[name].copy()
                col[gaps[:, k]] = INNOCENT[name][1]
                out[name] = col
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Most likely ``proxy_type`` of each row."""
        check_is_fitted(self, "trees_")
        probs = self.predict_risk(X)[[f"p_{c}" for c in PROXY_TYPES]].to_numpy()
        return self.classes_[probs.argmax(axis=1)]


def noise_cuts(score: np.ndarray) -> tuple[float, float]:
    """Below which score a "misuse" label is contradicted, and above which a legitimate one.

    Misuse is a minority, so the median out-of-fold score lies among clear
    legitimate dossiers: with noisy labels it sits at the noise's floor (the
    share of them labelled misuse), with clean ones near zero. The median of
    the scores above one half is, likewise, the ceiling of clear misuse. A
    label is contradicted within three floors of zero (at most 0.3), or three
    times the ceiling's distance from one (at least 0.7); never narrower than
    :data:`NOISE_LOW`, :data:`NOISE_HIGH`.
    """
    floor = float(np.median(score))
    high = score[score >= 0.5]
    ceiling = float(np.median(high)) if len(high) else 1.0
    low_cut = min(max(3 * floor, NOISE_LOW), 0.3)
    high_cut = max(min(1 - 3 * (1 - ceiling), NOISE_HIGH), 0.7)
    return low_cut, high_cut


def _contradicted(
    score: np.ndarray, misuse: np.ndarray, cuts: tuple[float, float] = (NOISE_LOW, NOISE_HIGH)
) -> np.ndarray:
    """Where a score says the opposite of the label (see :func:`noise_cuts`)."""
    return (misuse & (score < cuts[0])) | (~misuse & (score > cuts[1]))


def _noise_estimate(y: pd.Series, suspect: np.ndarray, judged: bool) -> dict[str, Any]:
    """What share of the labels looked wrong, overall and by side (for the model card)."""
    misuse = y.isin(MISUSE_TYPES).to_numpy()
    return {
        "judged": bool(judged),
        "labels": len(y),
        "set_aside": int(suspect.sum()),
        "share": float(suspect.mean()) if len(y) else 0.0,
        "misuse_labels_contradicted": float(suspect[misuse].mean()) if misuse.any() else 0.0,
        "legitimate_labels_contradicted": float(suspect[~misuse].mean())
        if (~misuse).any()
        else 0.0,
    }


def predicted_type(probs: pd.DataFrame, flagged: np.ndarray) -> np.ndarray:
    """The proxy_type to show for each row of a frame with the ``p_<proxy_type>`` columns.

    See :func:`detector._scoring.shown_type`.
    """
    return shown_type(probs[[f"p_{c}" for c in PROXY_TYPES]].to_numpy(float), flagged)
