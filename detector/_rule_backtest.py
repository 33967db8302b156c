"""Backtest a rule file on labelled dossiers, compare two backtests, print them.

An edit of the rule file is judged here before it goes live: how many dossiers
a rule sends to the inspection queue, how often it is right about misuse and
about its own proxy_type, and how many legitimate filings (self, family,
mandate, assisted) it would wrongly put in front of an inspector. The output is
one tidy row per rule, for sorting and for the CLI's table.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rich.table import Table
from sklearn.base import clone

from detector._rule_tree import FrameView, RuleError, check_features
from features.contract import LEGITIMATE_TYPES, MISUSE_TYPES, PROXY_TYPES

if TYPE_CHECKING:
    from detector.rules import Rule, RuleSet

__all__ = ["backtest", "compare_backtests", "format_backtest"]

_COUNTS = ["hits", "labelled_hits", *(f"hits_{t}" for t in LEGITIMATE_TYPES)]
_RATES = ["hit_rate", "precision_misuse", "precision_type", "recall_type"]
#: the columns of a backtest that compare_backtests puts side by side, in table order
_METRICS = ["weight", "hits", "hit_rate", "labelled_hits", *_RATES[1:], *_COUNTS[2:]]


def backtest(rules: RuleSet | Sequence[Rule], X: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """How every rule (disabled ones too) would have done on labelled dossiers.

    Parameters
    ----------
    rules : a RuleSet (fitted or not) or a list of rules
    X : features, one row per dossier
    labels : the verified ``proxy_type`` per dossier, aligned on ``X.index``;
        NaN = unlabelled, and absent index values count as unlabelled

    Returns
    -------
    DataFrame, one row per rule in file order: rule_id, proxy_type, weight,
    enabled, hits (all rows), hit_rate, labelled_hits, precision_misuse (share
    of labelled hits that are misuse), precision_type (share that are the rule's
    own proxy_type), recall_type (share of that type's labelled rows hit),
    hits_self/family/authorized/assisted (labelled hits on legitimate filings,
    the people a rule would wrongly accuse) and when. Rates are NaN when their
    denominator is 0. ``attrs`` holds ``rows`` and ``labelled``.

    Notes
    -----
    Unlabelled rows count in ``hits`` and ``hit_rate`` (the load a rule puts on
    the inspection queue) but not in precision or recall, which would be guesses.
    """
    if not isinstance(X, pd.DataFrame):
        raise RuleError(f"backtest expected a DataFrame of features, found {type(X).__name__}")
    if hasattr(rules, "fit"):  # a RuleSet; an unfitted one is fitted on a copy
        rule_list = list(rules.rules_ if hasattr(rules, "rules_") else clone(rules).fit(X).rules_)
    else:
        rule_list = list(rules)
        ids = [r.id for r in rule_list]
        if dupes := sorted({i for i in ids if ids.count(i) > 1}):
            raise RuleError(f"rule ids must be unique, found {', '.join(dupes)} more than once")
    check_features(rule_list, X.columns)
    if not isinstance(labels, pd.Series):
        raise RuleError(f"backtest expected labels as a Series, found {type(labels).__name__}")
    if not labels.index.is_unique or not X.index.is_unique:
        raise RuleError("backtest expected unique index values in X and labels, found duplicates")
    lab = labels.reindex(X.index).astype(object).to_numpy()
    labelled = pd.notna(lab)
    if bad := sorted({str(v) for v in lab[labelled] if v not in PROXY_TYPES}):
        raise RuleError(f"labels must be one of {', '.join(PROXY_TYPES)}, found {', '.join(bad)}")
    view = FrameView(X)
    is_type = {t: labelled & (lab == t) for t in PROXY_TYPES}
    hits = np.zeros((len(X), len(rule_list)), dtype=bool)
    own = np.zeros_like(hits)  # labelled rows of each rule's own proxy_type
    for j, rule in enumerate(rule_list):
        hits[:, j] = rule.expression.evaluate_frame(view)
        own[:, j] = is_type[rule.proxy_type]
    misuse = is_type[MISUSE_TYPES[0]] | is_type[MISUSE_TYPES[1]]
    n_lab = (hits & labelled[:, None]).sum(axis=0)
    n_own = (hits & own).sum(axis=0)
    out = pd.DataFrame(
        {
            "rule_id": [r.id for r in rule_list],
            "proxy_type": [r.proxy_type for r in rule_list],
            "weight": [r.weight for r in rule_list],
            "enabled": [r.enabled for r in rule_list],
            "hits": hits.sum(axis=0),
            "hit_rate": _ratio(hits.sum(axis=0), np.full(len(rule_list), len(X))),
            "labelled_hits": n_lab,
            "precision_misuse": _ratio((hits & misuse[:, None]).sum(axis=0), n_lab),
            "precision_type": _ratio(n_own, n_lab),
            "recall_type": _ratio(n_own, own.sum(axis=0)),
            **{f"hits_{t}": (hits & is_type[t][:, None]).sum(axis=0) for t in LEGITIMATE_TYPES},
            "when": [r.when for r in rule_list],
        }
    )
    out = out.astype({c: "int64" for c in _COUNTS} | {c: "float64" for c in _RATES})
    out.attrs.update(rows=len(X), labelled=int(labelled.sum()))
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def compare_backtests(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Per-rule change between two backtests, for reviewing an edit of the rule file.

    Returns one row per rule id of either (new order, then removed rules) with
    ``status`` (``added``, ``removed``, ``edited`` when proxy_type, weight,
    when or enabled changed, else ``unchanged``), then ``<m>_old``, ``<m>_new``
    and ``<m>_delta`` (new - old; NaN for added and removed rules) for weight
    and every count and rate, then ``when_old`` and ``when_new``.
    """
    a, b = old.set_index("rule_id"), new.set_index("rule_id")
    ids = list(b.index) + [i for i in a.index if i not in b.index]
    a, b = a.reindex(ids), b.reindex(ids)
    defining = ["proxy_type", "weight", "when", "enabled"]
    edited = pd.Series(False, index=ids)
    for col in defining:
        edited |= a[col].astype(object).ne(b[col].astype(object))
    status = np.select(
        [a["hits"].isna().to_numpy(), b["hits"].isna().to_numpy(), edited.to_numpy()],
        ["added", "removed", "edited"],
        "unchanged",
    )
    out = pd.DataFrame(
        {
            "rule_id": ids,
            "status": status,
            "proxy_type": b["proxy_type"].fillna(a["proxy_type"]).to_numpy(),
        }
    )
    for m in _METRICS:
        if m in a.columns and m in b.columns:
            old_v, new_v = a[m].astype(float).to_numpy(), b[m].astype(float).to_numpy()
            out[f"{m}_old"], out[f"{m}_new"], out[f"{m}_delta"] = old_v, new_v, new_v - old_v
    out["when_old"], out["when_new"] = a["when"].to_numpy(), b["when"].to_numpy()
    return out


# --- printing ---------------------------------------------------------------------------

_HEADERS = {
    "rule_id": ("Mã quy tắc", "Rule"),
    "status": ("Thay đổi", "Change"),
    "proxy_type": ("Loại nộp hộ", "Proxy type"),
    "weight": ("Trọng số", "Weight"),
    "enabled": ("Đang bật", "Enabled"),
    "hits": ("Số hồ sơ khớp", "Hits"),
    "hit_rate": ("Tỷ lệ khớp", "Hit rate"),
    "labelled_hits": ("Khớp đã gán nhãn", "Labelled hits"),
    "precision_misuse": ("Độ chính xác (sai phạm)", "Precision (misuse)"),
    "precision_type": ("Độ chính xác (đúng loại)", "Precision (own type)"),
    "recall_type": ("Độ bao phủ (đúng loại)", "Recall (own type)"),
    "hits_self": ("Khớp nhầm: tự nộp", "Hits on self"),
    "hits_family": ("Khớp nhầm: người thân", "Hits on family"),
    "hits_authorized": ("Khớp nhầm: ủy quyền", "Hits on authorized"),
    "hits_assisted": ("Khớp nhầm: hỗ trợ", "Hits on assisted"),
    "when": ("Điều kiện", "Condition"),
}
_SUFFIXES = {"_old": ("cũ", "old"), "_new": ("mới", "new"), "_delta": ("chênh lệch", "change")}


def _header(column: str, i: int) -> str:
    for suffix, words in _SUFFIXES.items():
        if column.endswith(suffix) and column[: -len(suffix)] in _HEADERS:
            return f"{_HEADERS[column[: -len(suffix)]][i]} ({words[i]})"
    return _HEADERS.get(column, (column, column))[i]


def _cell(column: str, value: object) -> str:
    base = re.sub(r"_(old|new|delta)\Z", "", column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    sign = (
        "+"
        if column.endswith("_delta") and isinstance(value, numbers.Real) and float(value) > 0
        else ""
    )
    if isinstance(value, bool | np.bool_):
        return "✓" if value else "✗"
    if base in _RATES:
        return f"{sign}{float(value):.1%}"  # type: ignore[arg-type]
    if base in _COUNTS:
        return f"{sign}{int(value):,}"  # type: ignore[call-overload]
    if base == "weight":
        return f"{sign}{float(value):.2f}"  # type: ignore[arg-type]
    return str(value)


def format_backtest(df: pd.DataFrame, lang: str = "vi") -> Table:
    """A backtest (or a comparison of two) as a rich Table, headers in ``lang`` ("vi" or "en")."""
    if lang not in ("vi", "en"):
        raise RuleError(f"format_backtest expected lang 'vi' or 'en', found {lang!r}")
    i = 0 if lang == "vi" else 1
    title = ("Kiểm thử quy tắc trên hồ sơ đã xác minh", "Rule backtest on verified dossiers")[i]
    table = Table(title=title)
    for col in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])
        table.add_column(_header(str(col), i), justify="right" if numeric else "left")
    for row in df.itertuples(index=False):
        table.add_row(*(_cell(str(c), v) for c, v in zip(df.columns, row, strict=True)))
    return table
