"""Rules and model combined: one risk score, one proxy_type, a flag, and reasons.

``Detector`` is a scikit-learn estimator over a feature frame (one moment:
``submission`` or ``review``). Only online dossiers go through the model:
desk and postal filings cannot be filed under someone else's account, so they
get a risk of 0 and their legitimate type.

Reasons, most important first: the rules that fired (by weight), then the
model's strongest contributions: a feature contributes when replacing its
value by the value typical of legitimate dossiers lowers the risk. Data gaps
are listed apart and never raise the score (see :mod:`detector.model`).
Each reason is a :class:`~detector._scoring.Reason` (code, sentences, the
values behind it) in the ``reason_list`` column; the scores file's
``reasons``, ``reasons_vi`` and ``reasons_en`` are those joined. The risk,
the type probabilities and the reasons come from :mod:`detector._scoring`,
which :mod:`detector.fastscore` calls too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from detector._lookalike import group_thresholds, row_threshold, thresholds_of
from detector._scoring import NO_REASONS, Reason, explain, joined, row_values
from detector.model import MisuseModel, predicted_type
from detector.rules import DEFAULT_RULES_PATH, Rule, RuleSet, load_rules
from features.contract import LEGITIMATE_TYPES, MISUSE_TYPES, PROXY_TYPES

#: how many features the model's explanation tries
EXPLAIN_CANDIDATES = 10
#: the column of :meth:`Detector.score_frame` with each dossier's reasons as Reason objects
REASON_LIST = "reason_list"


#: the lowest threshold a precision target may set: a flagged dossier is likelier misuse than not
THRESHOLD_FLOOR = 0.5

#: the type a desk or postal filing has, from what the submitter declared
DECLARED_TYPE = {
    "self": "self",
    "parent": "family",
    "guardian": "family",
    "spouse": "family",
    "relative": "family",
    "authorized": "authorized",
    "legal_rep": "authorized",
}


def usable_rules(rules: list[Rule], columns: pd.Index) -> list[Rule]:
    """The enabled rules whose features all exist at this moment (review-only rules drop at submission)."""
    cols = set(columns)
    return [r for r in rules if r.enabled and set(r.features) <= cols]


class Detector(BaseEstimator):
    """Rules + model over the features of one moment (see module docstring).

    Parameters
    ----------
    at : ``"submission"`` or ``"review"``: which feature set this detector reads.
    rules_path : the YAML rule file (default: the packaged ``detector/rules.yaml``).
    model : an unfitted :class:`MisuseModel` (default settings when None).
    precision_target : the flag threshold is the lowest risk at which the
        out-of-sample precision on the calibration months reaches this target.
    capacity : alternatively, the share of dossiers the inspectors can review;
        when set, the threshold flags that share of the calibration months.
    """

    def __init__(
        self,
        at: str = "submission",
        rules_path: str | None = None,
        model: MisuseModel | None = None,
        precision_target: float = 0.95,
        capacity: float | None = None,
    ) -> None:
        self.at = at
        self.rules_path = rules_path
        self.model = model
        self.precision_target = precision_target
        self.capacity = capacity

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: pd.DataFrame,
        y: pd.Series,
        t: pd.Series,
        calibrate: pd.Series | None = None,
        sample_weight: pd.Series | None = None,
        owner_age: pd.Series | None = None,
    ) -> Detector:
        """Fit on a feature frame, labels (NaN = unlabelled) and submission times.

        ``calibrate`` marks the rows whose labels may calibrate the risk and set
        the threshold (default: all), ``sample_weight`` how much each label
        counts; see :meth:`MisuseModel.fit`. ``owner_age`` gives the owners'
        ages when ``X``'s own are hidden from the trees (the starter's simulated
        provinces): the look-alike groups' thresholds (:mod:`detector._lookalike`)
        are judged on them; default ``X["owner_age"]``.
        """
        if self.at not in ("submission", "review"):
            raise ValueError(f"at must be submission or review (got {self.at!r})")
        rules = load_rules(self.rules_path or DEFAULT_RULES_PATH)
        self.rules_ = usable_rules(rules, X.columns)
        self.ruleset_ = RuleSet(rules=self.rules_).fit(X)
        online = (X["channel"] == "online").to_numpy()
        rule_score = self.ruleset_.score(X)
        model = clone(self.model) if self.model is not None else MisuseModel()
        cal = calibrate[online] if calibrate is not None else None
        weight = sample_weight[online] if sample_weight is not None else None
        X_online = X[online]  # one copy of the online rows, for the trees and the explanation
        self.model_ = model.fit(X_online, y[online], t[online], rule_score[online], cal, weight)
        self.threshold_, self.threshold_policy_ = self._threshold()
        ages = owner_age if owner_age is not None else X["owner_age"]
        self.lookalike_ = self._lookalike(ages[online].to_numpy(float))
        self.typical_ = self._typical(X[online & y.isin(LEGITIMATE_TYPES).to_numpy()])
        self.explain_features_ = self._explain_candidates(X_online, rule_score[online], y[online])
        self.feature_names_in_ = np.array(X.columns)
        return self

    def _threshold(self) -> tuple[float, str]:
        risk, target = self.model_.calibration_risk_, self.model_.calibration_target_
        if self.capacity is not None:
            thr = float(np.quantile(risk, 1 - self.capacity))
            return thr, f"capacity: flag the top {self.capacity:.1%} of dossiers"
        order = np.argsort(-risk)
        hits = np.cumsum(target[order])
        precision = hits / np.arange(1, len(order) + 1)
        ok = np.flatnonzero(precision >= self.precision_target)
        thr = float(risk[order][ok[-1]]) if len(ok) else 0.5
        # never below even odds: a flagged dossier is likelier misuse than not, whatever the
        # precision of the whole flagged set (the issue #13 inspector met a 0.10 floor)
        thr = float(np.clip(thr, THRESHOLD_FLOOR, 0.95))
        return thr, f"precision target {self.precision_target:.0%} on the calibration months"

    def _lookalike(self, age: np.ndarray) -> dict[str, dict[str, Any]]:
        """The look-alike groups' thresholds, judged on the calibration rows (:mod:`detector._lookalike`)."""
        m = self.model_
        rows = m.calibration_rows_
        return group_thresholds(
            m.calibration_risk_, m.calibration_target_, age[rows], self.threshold_,
            m.calibration_weight_,
        )  # fmt: skip

    def thresholds_by_group(self) -> np.ndarray:
        """The threshold per look-alike group code (:func:`detector._lookalike.thresholds_of`)."""
        check_is_fitted(self, "model_")
        return thresholds_of(getattr(self, "lookalike_", None), self.threshold_)

    @staticmethod
    def _typical(legit: pd.DataFrame) -> dict[str, object]:
        out: dict[str, object] = {}
        for col in legit.columns:
            s = legit[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                out[col] = s.mode().iloc[0] if s.notna().any() else np.nan
            else:
                out[col] = float(s.median()) if s.notna().any() else np.nan
        return out

    def _ablate(
        self,
        X: pd.DataFrame,
        rule_score: np.ndarray,
        features: list[str],
        encoded: np.ndarray | None = None,
    ) -> np.ndarray:
        """Risk drop when each feature takes its typical legitimate value (rows × features).

        All the altered copies go through the model in one call, as rows of
        the encoded matrix (``encoded``: ``model_.encode(X)`` when the caller
        has it). The typical value is cast to the column's dtype first, as
        writing it into the column would (an integer column truncates it).
        """
        model = self.model_
        Z = model.encode(X) if encoded is None else encoded
        base = model.risk_without_doubt(X, rule_score, encoded=Z)
        if not features:
            return np.zeros((len(X), 0))
        n = len(X)
        names = [str(c) for c in model.feature_names_in_]
        copies = np.tile(Z, (len(features), 1))
        for k, col in enumerate(features):
            typical = pd.Series([self.typical_[col]]).astype(X[col].dtype)
            copies[k * n : (k + 1) * n, names.index(col)] = model.encode_values(col, typical)[0]
        risk = model.risk_without_doubt(X, np.tile(rule_score, len(features)), encoded=copies)
        return base[:, None] - risk.reshape(len(features), n).T

    def _explain_candidates(
        self, X: pd.DataFrame, rule_score: pd.Series, y: pd.Series
    ) -> list[str]:
        """Features whose typical value lowers the risk of misuse dossiers most, on average."""
        mis = np.flatnonzero(y.isin(MISUSE_TYPES).to_numpy())
        rng = np.random.default_rng(0)
        sample = rng.choice(mis, min(len(mis), 400), replace=False)
        cols = [c for c in X.columns if pd.notna(self.typical_.get(c))]
        gains = self._ablate(X.iloc[sample], rule_score.iloc[sample].to_numpy(), cols).mean(axis=0)
        order = np.argsort(-gains)[:EXPLAIN_CANDIDATES]
        return [cols[j] for j in order]

    # ------------------------------------------------------------------ score
    def score_frame(self, X: pd.DataFrame, data_gaps: pd.Series | None = None) -> pd.DataFrame:
        """Score every row of a feature frame.

        Returns a frame on ``X``'s index with ``risk_score``, the class
        probabilities ``p_<proxy_type>``, ``flagged``, ``proxy_type``,
        ``data_gaps``, ``reasons`` (codes, most important first; empty when not
        flagged), ``reasons_vi``, ``reasons_en`` and :data:`REASON_LIST`: the
        reasons as a tuple of :class:`~detector._scoring.Reason` (code,
        sentences, evidence values), of which the three before are the joins.
        """
        check_is_fitted(self, "model_")
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"features missing for this detector ({self.at}): {missing[:5]}")
        X = X[self.feature_names_in_]
        online = (X["channel"] == "online").to_numpy()
        hits = self.ruleset_.hits(X)
        rule_score = self.ruleset_.score_hits(hits)
        # desk and postal filings: no account to misuse; the declared relation tells the type
        offline_type = X["declared_relation"].astype(object).map(DECLARED_TYPE).fillna("self")
        columns = {"risk_score": np.zeros(len(X))} | {
            f"p_{c}": (offline_type == c).to_numpy(float) for c in PROXY_TYPES
        }
        # the online rows read once, for the risk, the types, the doubt and the reasons
        X_online = X[online]
        Z = self.model_.encode(X_online)
        if online.any():
            pr = self.model_.predict_risk(X_online, rule_score[online].to_numpy(), encoded=Z)
            for col, values in columns.items():
                values[online] = pr[col].to_numpy()
        out = pd.DataFrame(columns, index=X.index)
        # owners relatives file for are flagged by their group's threshold (detector._lookalike)
        by_age = row_threshold(self.thresholds_by_group(), X["owner_age"].to_numpy(float))
        out["flagged"] = out["risk_score"].to_numpy() >= by_age
        out["proxy_type"] = predicted_type(out, out["flagged"].to_numpy())
        out["data_gaps"] = data_gaps.reindex(X.index).fillna("") if data_gaps is not None else ""
        reasons = self._reasons(X, hits, rule_score, out, (Z, online))
        texts = np.full((len(X), 3), "", dtype=object)
        for i in np.flatnonzero(out["flagged"].to_numpy()):
            texts[i] = joined(reasons[i])
        out["reasons"], out["reasons_vi"], out["reasons_en"] = texts.T
        out[REASON_LIST] = pd.Series(reasons, index=X.index, dtype=object)
        return out

    def _reasons(
        self,
        X: pd.DataFrame,
        hits: pd.DataFrame,
        rule_score: pd.Series,
        out: pd.DataFrame,
        encoded: tuple[np.ndarray, np.ndarray],
    ) -> list[tuple[Reason, ...]]:
        """Each row's reasons (:func:`detector._scoring.explain`); none when not flagged.

        ``encoded``: the online rows' encoded matrix, and which rows are online.
        """
        reasons = [NO_REASONS] * len(X)
        rows = np.flatnonzero(out["flagged"].to_numpy())
        if not len(rows):
            return reasons
        features = [str(f) for f in self.explain_features_]
        ranked = self.ruleset_.ranked_rules_
        Xf = X.iloc[rows]
        Z, online = encoded
        # a threshold of 0 flags offline rows too: those are not in Z
        Zf = Z[(np.cumsum(online) - 1)[rows]] if online[rows].all() else None
        contrib = self._ablate(Xf, rule_score.iloc[rows].to_numpy(), features, Zf)
        shown = [*features, *(n for r in ranked for n in r.evidence)]
        values = row_values(Xf[list(dict.fromkeys(shown))])
        fired = hits.iloc[rows][[r.id for r in ranked]].to_numpy(bool)
        types = out["proxy_type"].to_numpy()[rows]
        for k, i in enumerate(rows):
            row_hits = [r.hit(values[k]) for r, f in zip(ranked, fired[k], strict=True) if f]
            reasons[i] = explain(
                values[k], row_hits, str(types[k]), contrib[k], features, self.typical_
            )
        return reasons
