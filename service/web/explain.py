"""What a case's badge and reasons say, in the reader's language.

Two things the pages must never get wrong: a badge that calls a likely
legitimate filing misuse, and reasons that cannot be matched between the
queue and the case page. Both are decided here, once, for both pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from features.contract import LEGITIMATE_TYPES, MISUSE_TYPES
from service.web import i18n


@dataclass(frozen=True)
class TypeBadge:
    """The predicted type as a badge, and whether the probabilities disagree with it.

    ``doubt`` is true when the scorer named a misuse type but its own
    probabilities make a legitimate type the likeliest: the badge then leads
    with the likeliest (legitimate) type, and the misuse type is only what
    the case would be *if* it is misuse.
    """

    proxy_type: str
    likeliest: str
    share: float | None
    doubt: bool


def type_badge(proxy_type: str, probabilities: Mapping[str, Any] | None) -> TypeBadge:
    """The badge of a case from its predicted type and its class probabilities.

    Notes
    -----
    The rule: the badge shows the predicted type when it is the likeliest
    type (or no probabilities were stored). When a misuse type was predicted
    but a legitimate type is likelier, the badge says the filing is most
    likely legitimate, naming that type and its probability; the case stays
    in the queue because its risk score reached the flag threshold when it
    was scored, and the page says so.
    """
    probs = {
        str(t): float(p)
        for t, p in (probabilities or {}).items()
        if isinstance(p, int | float) and not isinstance(p, bool)
    }
    if not probs:
        return TypeBadge(proxy_type, proxy_type, None, False)
    likeliest = max(probs, key=lambda t: (probs[t], t == proxy_type))
    doubt = proxy_type in MISUSE_TYPES and likeliest in LEGITIMATE_TYPES
    return TypeBadge(proxy_type, likeliest, probs[likeliest], doubt)


@dataclass(frozen=True)
class ReasonLine:
    """One reason as the pages show it: its code, its sentence and its evidence rows."""

    code: str
    text: str
    evidence: tuple[tuple[str, str], ...]


def reason_lines(reasons: Any, lang: i18n.Lang) -> list[ReasonLine]:
    """The stored reasons of a case as code + sentence (+ evidence), in ``lang``.

    A model reason (``M.<feature>``) is one value against its typical value:
    its sentence is written here from the evidence, so it reads the value in
    words (never a raw code) and it is not repeated as evidence below
    itself. A rule's sentence is the rule's own; its evidence values are
    read in words.
    """
    if not isinstance(reasons, list):
        return []
    out = []
    for r in reasons:
        if not isinstance(r, dict):
            continue
        code = str(r.get("code") or "")
        found = r.get("evidence")
        evidence: dict[str, Any] = found if isinstance(found, dict) else {}
        feature = code[2:] if code.startswith("M.") else ""
        if feature and feature in evidence:
            text = _model_sentence(feature, evidence[feature], evidence.get("typical"), lang)
            rows: tuple[tuple[str, str], ...] = ()
        else:
            text = str(r.get(lang) or r.get("vi") or code)
            rows = tuple(
                (i18n.feature_name(lang, name), i18n.feature_value(lang, name, value))
                for name, value in evidence.items()
                if name != "typical"
            )
        out.append(ReasonLine(code, text, rows))
    return out


def _model_sentence(feature: str, value: object, typical: object, lang: i18n.Lang) -> str:
    name = i18n.feature_name(lang, feature)
    shown = i18n.feature_value(lang, feature, value)
    if typical is None:
        return f"{name}: {shown}"
    usual = i18n.feature_value(lang, feature, typical)
    return f"{name}: {shown} ({i18n.translate(lang, 'typical')}: {usual})"
