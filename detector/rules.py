"""Declarative detection rules that an inspection team can read, edit and backtest.

A rule file (YAML) lists conditions over named features, each pointing to one
``proxy_type`` with a weight and a reason written in Vietnamese and English::

    version: 1
    rules:
      - id: R101
        proxy_type: identity_misuse
        weight: 0.8
        when: "acct_new_unrelated_owners_30d >= 5 and holder_relation == 'none_known'"
        description_vi: "Tài khoản đã nộp hồ sơ cho từ 5 người không có quan hệ trong 30 ngày"
        description_en: "The account filed for 5 or more unrelated owners within 30 days"
        evidence: [acct_new_unrelated_owners_30d, holder_relation]   # default: names in `when`
        enabled: true                                               # default: true

``when`` is a small condition language (:mod:`detector._rule_expr` has the
grammar): feature names, constants, comparisons (chained too), ``in [...]``,
``and``/``or``/``not``, ``is_missing(x)``/``is_known(x)``, nothing else. A
comparison with a missing value is False, so missing data never makes a rule
fire; beware that ``not (x > 3)`` is therefore True when ``x`` is missing
(:mod:`detector._rule_tree` has the details). The engine knows no feature
names: :meth:`RuleSet.fit` checks the rules against the columns it is given,
so the same engine runs any rule file over any feature table.

:class:`RuleSet` is a scikit-learn transformer (one boolean column per enabled
rule), so rules can sit in a ``Pipeline`` or ``FeatureUnion`` next to a model,
and :func:`backtest` measures a rule file against labelled dossiers before an
edit goes live.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from detector._rule_backtest import backtest, compare_backtests, format_backtest
from detector._rule_expr import parse_expression
from detector._rule_tree import Expression, FrameView, RuleError, check_features
from features import is_missing
from features.contract import MISUSE_TYPES, PROXY_TYPES

__all__ = [
    "DEFAULT_RULES_PATH",
    "Hit",
    "Rule",
    "RuleError",
    "RuleSet",
    "backtest",
    "compare_backtests",
    "format_backtest",
    "load_rules",
    "noisy_or",
    "parse_rules",
]

#: the rule file shipped with the package, used when RuleSet gets neither path nor rules
DEFAULT_RULES_PATH = Path(__file__).with_name("rules.yaml")

#: ids become column names and `;`-separated reason codes, so no spaces or `;`
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
_REQUIRED = ("id", "proxy_type", "weight", "when", "description_vi", "description_en")
_OPTIONAL = ("evidence", "enabled")


@dataclass(frozen=True)
class Rule:
    """One detection rule; checked and compiled when created.

    ``evidence`` defaults to the features named in ``when``: the values shown
    to an inspector as the facts behind the reason.
    """

    id: str
    proxy_type: str
    weight: float
    when: str
    description_vi: str
    description_en: str
    evidence: tuple[str, ...] = ()
    enabled: bool = True
    expression: Expression = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rid = self.id if isinstance(self.id, str) and self.id else "?"
        if self.evidence is None:  # `evidence:` left empty in YAML
            object.__setattr__(self, "evidence", ())
        problems = _field_problems(self)
        try:
            expression = parse_expression(self.when, rid)
        except RuleError as exc:
            problems.append(str(exc).removeprefix(f"rule {rid}: "))
        if problems:
            raise RuleError(f"rule {rid}: " + "; ".join(problems))
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "weight", float(self.weight))
        object.__setattr__(self, "evidence", tuple(self.evidence) or expression.names)

    @property
    def features(self) -> tuple[str, ...]:
        """Every feature the rule reads or shows, in order."""
        return tuple(dict.fromkeys((*self.expression.names, *self.evidence)))

    def hit(self, features: Mapping[str, object]) -> Hit:
        """This rule as fired on one dossier, with the values of its evidence features.

        A feature absent from ``features`` shows as missing (None).
        """
        return Hit(
            rule_id=self.id,
            proxy_type=self.proxy_type,
            weight=self.weight,
            description_vi=self.description_vi,
            description_en=self.description_en,
            evidence={n: _plain(features.get(n)) for n in self.evidence},
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Rule:
        """A rule from one entry of a rule file, refusing missing and unknown keys."""
        rid = data.get("id") if isinstance(data.get("id"), str) else "?"
        missing = [k for k in _REQUIRED if k not in data]
        unknown = sorted(str(k) for k in data if k not in _REQUIRED + _OPTIONAL)
        problems = [f"missing {', '.join(missing)}"] if missing else []
        if unknown:
            problems.append(
                f"unknown key {', '.join(unknown)} (known: {', '.join(_REQUIRED + _OPTIONAL)})"
            )
        if problems:
            raise RuleError(f"rule {rid}: " + "; ".join(problems))
        return cls(**{k: v for k, v in data.items()})


def _field_problems(rule: Rule) -> list[str]:
    found = []
    if not (isinstance(rule.id, str) and _ID.match(rule.id)):
        found.append(
            f"id must be letters, digits, '_', '.' or '-' starting with a letter, found {rule.id!r}"
        )
    if rule.proxy_type not in PROXY_TYPES:
        found.append(
            f"proxy_type must be one of {', '.join(PROXY_TYPES)}, found {rule.proxy_type!r}"
        )
    w = rule.weight
    if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1:
        found.append(f"weight must be a number from 0 to 1, found {w!r}")
    for key in ("description_vi", "description_en"):
        text = getattr(rule, key)
        if not (isinstance(text, str) and text.strip()):
            found.append(f"{key} must be non-empty text, found {text!r}")
    ev = rule.evidence
    if not isinstance(ev, list | tuple) or not all(
        isinstance(n, str) and n.isidentifier() for n in ev
    ):
        found.append(f"evidence must be a list of feature names, found {ev!r}")
    if not isinstance(rule.enabled, bool):
        found.append(f"enabled must be true or false, found {rule.enabled!r}")
    return found


@dataclass(frozen=True)
class Hit:
    """A rule that fired on one dossier, with the feature values behind it."""

    rule_id: str
    proxy_type: str
    weight: float
    description_vi: str
    description_en: str
    evidence: dict[str, object]


def noisy_or(weights: Iterable[float]) -> float:
    """``1 - prod(1 - w)``: the chance that at least one independent signal is right.

    Noisy-OR never decreases when a rule fires, never exceeds 1, equals the
    weight of a lone hit, and lets two weak signals add up to more than either
    alone without two copies of the same strong one reaching certainty.
    """
    product = 1.0
    for w in weights:
        product *= 1.0 - w
    return 1.0 - product


# --- rule files -------------------------------------------------------------------------


def load_rules(path: str | os.PathLike[str]) -> list[Rule]:
    """Read and check a rule file.

    Raises
    ------
    RuleError
        When the file cannot be read or is not valid YAML, or for every rule
        that is wrong (all of them, one per line of ``problems``), naming the
        rule id and its line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"cannot read rule file {path}: {exc}") from exc
    return parse_rules(text, source=str(path))


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    """Check the text of a rule file (see :func:`load_rules`), e.g. an edit before saving."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise RuleError(f"{source}: not valid YAML{at}: {reason}") from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{source}: expected a mapping with 'version: 1' and a 'rules:' list")
    problems = []
    if data.get("version") != 1:
        problems.append(f"version must be 1, found {data.get('version')!r}")
    if extra := sorted(str(k) for k in data if k not in ("version", "rules")):
        problems.append(f"unknown top-level key {', '.join(extra)}")
    items = next(v for k, v in node.value if k.value == "rules").value  # type: ignore[union-attr]
    rules: list[Rule] = []
    first_line: dict[str, int] = {}
    for item, entry in zip(items, data["rules"], strict=True):
        line = item.start_mark.line + 1
        if not isinstance(entry, dict):
            problems.append(f"rule at line {line}: expected a mapping of keys, found {entry!r}")
            continue
        keys = [k.value for k, _ in item.value]
        if dupes := sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(
                f"rule {entry.get('id', '?')} (line {line}): key {', '.join(dupes)} given twice"
            )
            continue
        try:
            rule = Rule.from_mapping(entry)
        except RuleError as exc:
            problems.extend(p.replace(":", f" (line {line}):", 1) for p in exc.problems)
            continue
        if rule.id in first_line:
            problems.append(
                f"rule {rule.id} (line {line}): duplicate id, first at line {first_line[rule.id]}"
            )
            continue
        first_line[rule.id] = line
        rules.append(rule)
    if problems:
        raise RuleError(f"{source}: " + "; ".join(problems), [f"{source}: {p}" for p in problems])
    return rules


def _check_frame(X: object, what: str) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise RuleError(
            f"{what} expected a DataFrame with named feature columns, found {type(X).__name__}"
        )
    return X


def _plain(value: object) -> object:
    """A feature value fit for JSON and the case page: missing as None, numpy as Python."""
    if is_missing(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


# --- the estimator ----------------------------------------------------------------------


class RuleSet(TransformerMixin, BaseEstimator):
    """Rules as a scikit-learn transformer: one boolean column per enabled rule.

    Parameters
    ----------
    path : a rule file; used when ``rules`` is None (default :data:`DEFAULT_RULES_PATH`)
    rules : rules given directly, as :class:`Rule` objects or rule-file mappings

    Attributes
    ----------
    rules_ : tuple of Rule, every rule, in file order (disabled ones too, for backtests)
    enabled_rules_ : tuple of Rule, the rules that are evaluated, in file order
    ranked_rules_ : tuple of Rule, the enabled rules by weight, heaviest first
    feature_names_in_ : ndarray of the columns seen in ``fit``
    n_features_in_ : int
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        rules: Sequence[Rule | Mapping[str, Any]] | None = None,
    ) -> None:
        self.path = path
        self.rules = rules

    def fit(self, X: pd.DataFrame, y: object = None) -> RuleSet:
        """Load and check the rules against the feature columns of ``X``.

        Raises
        ------
        RuleError
            For a bad rule or rule file, a duplicate id, or a rule that reads a
            feature ``X`` lacks (listing the missing and the known features).
        """
        X = _check_frame(X, "RuleSet.fit")
        if self.rules is not None and self.path is not None:
            raise RuleError("RuleSet expected either path or rules, found both")
        if self.rules is None:
            rules = load_rules(DEFAULT_RULES_PATH if self.path is None else self.path)
        else:
            rules = [r if isinstance(r, Rule) else Rule.from_mapping(r) for r in self.rules]
        ids = [r.id for r in rules]
        if dupes := sorted({i for i in ids if ids.count(i) > 1}):
            raise RuleError(f"rule ids must be unique, found {', '.join(dupes)} more than once")
        enabled = tuple(r for r in rules if r.enabled)
        check_features(enabled, X.columns)
        self.rules_ = tuple(rules)
        self.enabled_rules_ = enabled
        self.ranked_rules_ = tuple(sorted(enabled, key=lambda r: -r.weight))  # stable: file order
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(X.columns)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Which enabled rules fire on each row: a bool DataFrame, columns = rule ids."""
        check_is_fitted(self)
        X = _check_frame(X, "RuleSet.transform")
        check_features(self.enabled_rules_, X.columns)
        view = FrameView(X)
        ids = [r.id for r in self.enabled_rules_]
        hits = {r.id: r.expression.evaluate_frame(view) for r in self.enabled_rules_}
        return pd.DataFrame(hits, index=X.index, columns=ids, dtype=bool)

    hits = transform

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """The rule ids, the names of the columns :meth:`transform` returns."""
        check_is_fitted(self)
        return np.asarray([r.id for r in self.enabled_rules_], dtype=object)

    def evaluate_one(self, features: Mapping[str, object]) -> list[Hit]:
        """The rules that fire on one dossier, heaviest first, with their evidence.

        A feature absent from ``features`` counts as missing, so a request that
        lacks a field can still be evaluated, and never fires a rule on that field.
        """
        if "ranked_rules_" not in self.__dict__:  # check_is_fitted, at a per-request cost
            check_is_fitted(self)
        return [r.hit(features) for r in self.ranked_rules_ if r.expression.evaluate_one(features)]

    def score(self, X: pd.DataFrame) -> pd.Series:
        """The rules' misuse score per row, in [0, 1]: noisy-OR over the weights of hits.

        Only rules whose ``proxy_type`` is misuse count: a rule that recognises a
        legitimate pattern (guided self-service, a mandate) explains a dossier,
        it must not raise its risk. See :func:`noisy_or` for why noisy-OR.
        Unlike scikit-learn's ``score(X, y)`` this is not a metric.
        """
        return self.score_hits(self.transform(X))

    def score_hits(self, hits: pd.DataFrame) -> pd.Series:
        """:meth:`score` from the rows' hits (:meth:`transform`'s frame), when they are at hand."""
        check_is_fitted(self)
        fired = hits[[r.id for r in self.enabled_rules_]].to_numpy(dtype=bool)
        w = np.array(
            [r.weight if r.proxy_type in MISUSE_TYPES else 0.0 for r in self.enabled_rules_]
        )
        keep = np.where(fired, 1.0 - w, 1.0).prod(axis=1)
        return pd.Series(1.0 - keep, index=hits.index, name="rule_score")

    def score_one(self, features: Mapping[str, object]) -> float:
        """:meth:`score` for one dossier."""
        return noisy_or(
            h.weight for h in self.evaluate_one(features) if h.proxy_type in MISUSE_TYPES
        )

    def top_type(self, X: pd.DataFrame) -> pd.Series:
        """The proxy_type of each row's heaviest hit (first in file on ties), or None."""
        check_is_fitted(self)
        ranked = [r.id for r in self.ranked_rules_]
        hits = self.transform(X)[ranked].to_numpy(dtype=bool)
        types = np.array([r.proxy_type for r in self.ranked_rules_] + [None], dtype=object)
        first = np.where(hits.any(axis=1), hits.argmax(axis=1), len(ranked)) if ranked else 0
        return pd.Series(types[first], index=X.index, name="rule_proxy_type", dtype=object)
