"""Rules and model combined: one risk score, one proxy_type, a flag, and reasons.

``Detector`` is a scikit-learn estimator over a feature frame (one moment:
``submission`` or ``review``). Only online dossiers go through the model:
desk and postal filings cannot be filed under someone else's account, so they
get a risk of 0 and their legitimate type.

Reasons, most important first: the rules that fired (by weight), then the
model's strongest contributions: a feature contributes when replacing its
value by the value typical of legitimate dossiers lowers the risk. Data gaps
are listed apart and never raise the score (see :mod:`detector.model`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from detector.model import MisuseModel, predicted_type
from detector.rules import DEFAULT_RULES_PATH, Rule, RuleSet, load_rules
from features import is_missing
from features.contract import LEGITIMATE_TYPES, MISUSE_TYPES, PROXY_TYPES
from features.defs import ALL_FEATURES, value_text

#: how many features the model's explanation tries, and how many it reports
EXPLAIN_CANDIDATES = 10
EXPLAIN_TOP = 3
MIN_CONTRIBUTION = 0.05
#: when no rule fired and no single feature stands out, the combination does
PATTERN_REASON = (
    "M.pattern",
    "Tổ hợp các đặc điểm của hồ sơ giống các trường hợp sai phạm đã được xác minh",
    "The combination of this dossier's features resembles verified misuse",
)


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


def model_reason_features(
    contrib: np.ndarray, values: Sequence[object], features: Sequence[str], rules_fired: bool
) -> list[str]:
    """The features the model's explanation names for one flagged dossier, strongest first.

    Parameters
    ----------
    contrib : per feature, how much the risk drops when it takes its typical value.
    values : the dossier's values of ``features``.
    features : the explanation candidates (``Detector.explain_features_``).
    rules_fired : whether a misuse rule already explains the flag.

    Notes
    -----
    At most ``EXPLAIN_TOP`` features that lower the risk by ``MIN_CONTRIBUTION``
    or more; a missing or "unknown" value is a data gap, never a reason. A flag
    always comes with a reason: when no rule fired and no feature qualifies,
    the strongest one that lowers the risk at all is named. Shared by
    :meth:`Detector.score_frame` and :mod:`detector.fastscore`.
    """
    known = [not is_missing(v) and v != "unknown" for v in values]
    ranked = np.argsort(-contrib)
    order = [j for j in ranked if known[j] and contrib[j] >= MIN_CONTRIBUTION]
    names = [features[j] for j in order[:EXPLAIN_TOP]]
    if not rules_fired and not names:
        weaker = [j for j in ranked if known[j] and contrib[j] > 0]
        names = [features[j] for j in weaker[:1]]
    return names


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
    ) -> Detector:
        """Fit on a feature frame, labels (NaN = unlabelled) and submission times.

        ``calibrate`` marks the rows whose labels may calibrate the risk and set
        the threshold (default: all), ``sample_weight`` how much each label
        counts; see :meth:`MisuseModel.fit`.
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
        self.model_ = model.fit(X[online], y[online], t[online], rule_score[online], cal, weight)
        self.threshold_, self.threshold_policy_ = self._threshold()
        self.typical_ = self._typical(X[online & y.isin(LEGITIMATE_TYPES).to_numpy()])
        self.explain_features_ = self._explain_candidates(X[online], rule_score[online], y[online])
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

    def _ablate(self, X: pd.DataFrame, rule_score: np.ndarray, features: list[str]) -> np.ndarray:
        """Risk drop when each feature takes its typical legitimate value (rows × features).

        All the altered copies go through the model in one call.
        """
        base = self.model_.risk_without_doubt(X, rule_score)
        copies = []
        for col in features:
            alt = X.copy()
            alt[col] = pd.Series([self.typical_[col]] * len(alt), index=alt.index).astype(
                X[col].dtype
            )
            copies.append(alt)
        if not copies:
            return np.zeros((len(X), 0))
        risk = self.model_.risk_without_doubt(pd.concat(copies), np.tile(rule_score, len(features)))
        return base[:, None] - risk.reshape(len(features), len(X)).T

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

        Returns a frame on ``X``'s index with ``risk_score``, ``proxy_type``,
        ``flagged``, ``reasons`` (codes, most important first; empty when not
        flagged), ``reasons_vi``, ``reasons_en``, ``data_gaps`` and the class
        probabilities ``p_<proxy_type>``.
        """
        check_is_fitted(self, "model_")
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"features missing for this detector ({self.at}): {missing[:5]}")
        X = X[self.feature_names_in_]
        online = (X["channel"] == "online").to_numpy()
        hits = self.ruleset_.hits(X)
        rule_score = self.ruleset_.score(X)
        out = pd.DataFrame(index=X.index)
        out["risk_score"] = 0.0
        # desk and postal filings: no account to misuse; the declared relation tells the type
        offline_type = X["declared_relation"].astype(object).map(DECLARED_TYPE).fillna("self")
        for c in PROXY_TYPES:
            out[f"p_{c}"] = (offline_type == c).astype(float)
        if online.any():
            pr = self.model_.predict_risk(X[online], rule_score[online].to_numpy())
            for col in pr.columns:
                if col in out.columns:
                    out.loc[pr.index, col] = pr[col].to_numpy()
        out["flagged"] = out["risk_score"] >= self.threshold_
        out["proxy_type"] = predicted_type(out, out["flagged"].to_numpy())
        out["data_gaps"] = data_gaps.reindex(X.index).fillna("") if data_gaps is not None else ""
        codes, vi, en = self._reasons(X, hits, rule_score, out)
        out["reasons"], out["reasons_vi"], out["reasons_en"] = codes, vi, en
        return out

    def _reasons(
        self, X: pd.DataFrame, hits: pd.DataFrame, rule_score: pd.Series, out: pd.DataFrame
    ) -> tuple[pd.Series, pd.Series, pd.Series]:
        flagged = out["flagged"].to_numpy()
        codes = pd.Series("", index=X.index, dtype=object)
        vi = pd.Series("", index=X.index, dtype=object)
        en = pd.Series("", index=X.index, dtype=object)
        if not flagged.any():
            return codes, vi, en
        rows = np.flatnonzero(flagged)
        by_weight = sorted(self.rules_, key=lambda r: -r.weight)
        Xf, rs = X.iloc[rows], rule_score.iloc[rows].to_numpy()
        contrib = self._ablate(Xf, rs, list(self.explain_features_))
        hit_arr = hits.iloc[rows]
        for k, i in enumerate(rows):
            fired = [
                r
                for r in by_weight
                if hit_arr.iat[k, hit_arr.columns.get_loc(r.id)] and r.proxy_type in MISUSE_TYPES
            ]
            # the reasons for the type shown come first, then the others, each by weight
            shown_type = str(out["proxy_type"].iat[i])
            fired.sort(key=lambda r: r.proxy_type != shown_type)
            # a missing value is a data gap, never a reason
            values = [Xf.iat[k, Xf.columns.get_loc(f)] for f in self.explain_features_]
            model_feats = model_reason_features(
                contrib[k], values, self.explain_features_, rules_fired=bool(fired)
            )
            if not fired and not model_feats:
                codes.iat[i], vi.iat[i], en.iat[i] = PATTERN_REASON
                continue
            row_codes = [r.id for r in fired] + [f"M.{f}" for f in model_feats]
            row_vi = [r.description_vi for r in fired] + [
                self._sentence(f, X.iat[i, X.columns.get_loc(f)], "vi") for f in model_feats
            ]
            row_en = [r.description_en for r in fired] + [
                self._sentence(f, X.iat[i, X.columns.get_loc(f)], "en") for f in model_feats
            ]
            codes.iat[i], vi.iat[i], en.iat[i] = (
                ";".join(row_codes),
                " | ".join(row_vi),
                " | ".join(row_en),
            )
        return codes, vi, en

    def _sentence(self, feature: str, value: object, lang: str) -> str:
        meta = ALL_FEATURES.get(feature)
        text = (meta.vi if lang == "vi" else meta.en) if meta else feature
        shown = value_text(feature, value, lang)
        typical = value_text(feature, self.typical_.get(feature), lang)
        if lang == "vi":
            return f"{text}: {shown} (thường gặp: {typical})"
        return f"{text}: {shown} (typical: {typical})"
