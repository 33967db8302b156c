"""What a score is made of, computed by one piece of code for any number of rows.

Two runners score the same fitted :class:`~detector.scorer.Detector`:
:meth:`Detector.score_frame <detector.scorer.Detector.score_frame>` (a frame,
scikit-learn's trees) and :meth:`FastScorer.score
<detector.fastscore.FastScorer.score>` (one dossier, the trees compiled by
:mod:`detector._forest`). They differ only in how they evaluate the trees;
everything after the trees' outputs is here, on 2-D arrays of any number of
rows, and both call it:

- :func:`calibrated_risk`: the stacking calibrator over the misuse trees'
  probability and the rule score;
- :func:`type_probabilities`: the six class probabilities, the risk shared
  among misuse types and the rest among legitimate ones;
- :func:`shown_type`: the type shown, consistent with the flag;
- :func:`explain`: a flagged dossier's reasons, each a :class:`Reason` with its
  code, its sentences in Vietnamese and English, and the values behind it.

Writers (the scores file, the case store, the API's answer) format these
:class:`Reason` objects; none derives them again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import expit

from detector.rules import Hit, _plain
from features import is_missing
from features.contract import LEGITIMATE_TYPES, MISUSE_TYPES, PROXY_TYPES
from features.defs import ALL_FEATURES, value_text

#: the misuse probability is clipped to [_EPS, 1 - _EPS] before its log-odds
_EPS = 1e-6
#: how many features the model's explanation reports, and the least risk drop that counts
EXPLAIN_TOP = 3
MIN_CONTRIBUTION = 0.05


@lru_cache(maxsize=64)
def _positions(types: tuple[str, ...], among: tuple[str, ...]) -> slice | NDArray[np.intp]:
    """Where ``types`` sit among ``among``: a slice when they are in a row, in order.

    Cached, and a slice or an index array, because one dossier's scoring calls
    it on every request (a list index costs more to apply).
    """
    at = [among.index(c) for c in types]
    in_a_row = at == list(range(at[0], at[-1] + 1))
    return slice(at[0], at[-1] + 1) if in_a_row else np.array(at, dtype=np.intp)


_MISUSE_AT = _positions(MISUSE_TYPES, PROXY_TYPES)  # for shown_type
_LEGIT_AT = _positions(LEGITIMATE_TYPES, PROXY_TYPES)
_MISUSE, _LEGIT = np.array(MISUSE_TYPES), np.array(LEGITIMATE_TYPES)


@dataclass(frozen=True)
class Reason:
    """One reason a dossier was flagged, in both languages, with the values behind it.

    ``code`` is a rule id or ``M.<feature>`` (``M.pattern`` when nothing
    stands out); ``evidence`` holds the rule's evidence features, or the
    feature's value and its ``"typical"`` legitimate value (missing as None).
    """

    code: str
    vi: str
    en: str
    evidence: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The reason as the API answers it and a case keeps it: code, vi, en, evidence."""
        return {"code": self.code, "vi": self.vi, "en": self.en, "evidence": dict(self.evidence)}


#: when no rule fired and no single feature stands out, the combination does
PATTERN_REASON = Reason(
    "M.pattern",
    "Tổ hợp các đặc điểm của hồ sơ giống các trường hợp sai phạm đã được xác minh",
    "The combination of this dossier's features resembles verified misuse",
)
#: the reasons of a dossier that is not flagged (one shared empty tuple: cheap on a million rows)
NO_REASONS: tuple[Reason, ...] = ()


def joined(reasons: Sequence[Reason]) -> tuple[str, str, str]:
    """The scores file's ``reasons``, ``reasons_vi`` and ``reasons_en`` for one dossier.

    Codes are joined by ``;``, sentences by `` | `` (the data contract's format).
    """
    if not reasons:
        return "", "", ""
    return (
        ";".join(r.code for r in reasons),
        " | ".join(r.vi for r in reasons),
        " | ".join(r.en for r in reasons),
    )


def row_values(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The rows of a feature frame as one dossier's values are read (by :func:`explain` too).

    Floats (NaN when unknown) for numbers and flags, str (or NaN) for
    categories: what the scoring API computes for one dossier, so a reason's
    sentence and evidence do not depend on the runner (an integer column's 5
    is shown as the API shows 5.0).
    """
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    plain = frame.astype({c: object for c in cats}).astype(
        {c: float for c in frame.columns if c not in cats}
    )
    return [
        {k: (math.nan if v is None else v) for k, v in row.items()}
        for row in plain.to_dict("records")
    ]


# ---------------------------------------------------------------------- risk
def misuse_logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """The log-odds of the trees' misuse probability, clipped away from 0 and 1."""
    p = np.minimum(np.maximum(p, _EPS), 1 - _EPS)
    return np.asarray(np.log(p / (1 - p)), np.float64)


def calibrated_risk(
    p: NDArray[np.float64],
    rule_score: NDArray[np.float64] | float,
    coef_t: NDArray[np.float64],
    intercept: float,
) -> NDArray[np.float64]:
    """The calibrated risk of each row: the stacking calibrator on the trees and the rules.

    Parameters
    ----------
    p : the misuse trees' probability per row.
    rule_score : the rules' score per row (or one for all rows).
    coef_t, intercept : the binary logistic regression's ``coef_.T`` (2 x 1) and
        ``intercept_[0]``.

    Notes
    -----
    What ``LogisticRegression.predict_proba(...)[:, 1]`` computes (``expit`` of
    the decision function), without its checks. The product runs on two rows
    at least: BLAS rounds a one-row product differently in the last bit, so one
    dossier alone scores as it does among others.
    """
    n = len(p)
    z = np.empty((max(n, 2), 2))
    z[:n, 0] = misuse_logit(p)
    z[n:, 0] = z[0, 0]
    z[:n, 1] = rule_score
    z[n:, 1] = z[0, 1]
    return np.asarray(expit((z @ coef_t)[:n, 0] + intercept), np.float64)


# ------------------------------------------------------------------ types
#: one group's type model: its classes and its ``predict_proba`` (None: the group held one type
#: in training, which takes the group's whole share)
GroupProba = tuple[tuple[str, ...], NDArray[np.float64] | None]


def type_probabilities(
    risk: NDArray[np.float64], misuse: GroupProba, legitimate: GroupProba
) -> NDArray[np.float64]:
    """The six class probabilities of each row (PROXY_TYPES order).

    The risk is shared among misuse types and the rest among legitimate ones,
    each group by its type model's probabilities; a type the model does not
    know gets 0.
    """
    out = np.zeros((len(risk), len(PROXY_TYPES)))
    for (classes, proba), share in ((misuse, risk), (legitimate, 1 - risk)):
        at = _positions(classes, PROXY_TYPES)
        out[:, at] = share[:, None] if proba is None else proba * share[:, None]
    return out


def shown_type(probs: NDArray[np.float64], flagged: NDArray[np.bool_]) -> NDArray[np.str_]:
    """The proxy_type to show: the likelier misuse type when flagged, else the likelier legitimate one.

    ``probs`` holds the six probabilities in PROXY_TYPES order. Keeps the flag
    and the type consistent: a flagged dossier is never called ``self``, an
    unflagged one never ``identity_misuse``; the first of equals wins, as argmax.
    """
    return np.where(
        flagged,
        _MISUSE[probs[:, _MISUSE_AT].argmax(axis=1)],
        _LEGIT[probs[:, _LEGIT_AT].argmax(axis=1)],
    )


# ---------------------------------------------------------------- reasons
def model_reason_features(
    contrib: NDArray[np.float64],
    values: Sequence[object],
    features: Sequence[str],
    rules_fired: bool,
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
    At most :data:`EXPLAIN_TOP` features that lower the risk by
    :data:`MIN_CONTRIBUTION` or more; a missing or "unknown" value is a data
    gap, never a reason. A flag always comes with a reason: when no rule fired
    and no feature qualifies, the strongest one that lowers the risk at all is
    named.
    """
    known = [not is_missing(v) and v != "unknown" for v in values]
    ranked = np.argsort(-contrib)
    order = [j for j in ranked if known[j] and contrib[j] >= MIN_CONTRIBUTION]
    names = [features[j] for j in order[:EXPLAIN_TOP]]
    if not rules_fired and not names:
        weaker = [j for j in ranked if known[j] and contrib[j] > 0]
        names = [features[j] for j in weaker[:1]]
    return names


@lru_cache(maxsize=4096, typed=True)
def sentence(feature: str, value: object, typical: object, lang: str) -> str:
    """A model reason's sentence: the feature's meaning, its value and the typical value.

    Cached: most flagged dossiers repeat a few values.
    """
    meta = ALL_FEATURES.get(feature)
    text = (meta.vi if lang == "vi" else meta.en) if meta else feature
    shown = value_text(feature, value, lang)
    usual = value_text(feature, typical, lang)
    if lang == "vi":
        return f"{text}: {shown} (thường gặp: {usual})"
    return f"{text}: {shown} (typical: {usual})"


def explain(
    values: Mapping[str, object],
    hits: Sequence[Hit],
    proxy_type: str,
    contrib: NDArray[np.float64],
    features: Sequence[str],
    typical: Mapping[str, object],
) -> tuple[Reason, ...]:
    """The reasons of one flagged dossier, most important first.

    Parameters
    ----------
    values : the dossier's feature values (at least the explanation's ``features``):
        floats (NaN unknown) for numbers and flags, str (or NaN) for categories.
    hits : the rules that fired on it, heaviest first (:meth:`RuleSet.evaluate_one
        <detector.rules.RuleSet.evaluate_one>`'s order), with their evidence.
    proxy_type : the type shown for it.
    contrib : per explanation feature, how much its typical value lowers the risk.
    features : the explanation candidates (``Detector.explain_features_``).
    typical : each feature's typical legitimate value (``Detector.typical_``).

    Returns
    -------
    The misuse rules that fired, those for the type shown first, each group by
    weight; then the model's strongest features (:func:`model_reason_features`);
    :data:`PATTERN_REASON` alone when there is neither.
    """
    fired = [h for h in hits if h.proxy_type in MISUSE_TYPES]
    fired.sort(key=lambda h: h.proxy_type != proxy_type)  # stable: by weight within each
    named = (
        model_reason_features(
            contrib, [values[f] for f in features], features, rules_fired=bool(fired)
        )
        if features
        else []
    )
    if not fired and not named:
        return (PATTERN_REASON,)
    out = [Reason(h.rule_id, h.description_vi, h.description_en, h.evidence) for h in fired]
    for f in named:
        value, usual = values[f], typical.get(f)
        out.append(
            Reason(
                f"M.{f}",
                sentence(f, value, usual, "vi"),
                sentence(f, value, usual, "en"),
                {f: _plain(value), "typical": _plain(usual)},
            )
        )
    return tuple(out)
