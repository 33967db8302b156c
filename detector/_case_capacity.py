"""Capacity stated in cases per month: what a team finds with dossier cases and with actor cases.

A team reviews ``cases_per_month`` cases each month. At the end of month *m*
the queue holds every flagged dossier submitted so far that carries no verdict
yet, grouped into cases (one per dossier, or by actor with
:func:`detector.actors.actor_cases`) and ordered by
:func:`detector.actors.rank_cases`. The team reviews the top cases; a review's
verdict covers every open dossier of the case (an actor case's verdict
confirms all its misuse dossiers). Dossiers stay in the backlog until
reviewed, so an actor met again next month is a case again, for its new
dossiers only.

Judged on the true labels: ``precision`` is the share of reviewed cases that
held misuse, ``misuse_confirmed`` the misuse dossiers their verdicts covered,
``actors_confirmed`` how many distinct actors those belong to (the actor
grouping of all the period's flagged dossiers, for both kinds of case, so the
two count the same brokers and officers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from detector.actors import _month, _with_ids, actor_cases, dossier_cases, rank_cases
from features import pseudonymiser
from features.contract import MISUSE_TYPES

#: pseudonyms of case keys that never leave the process (evaluation counts cases, it shows none)
_INTERNAL_KEY = b"detector-evaluate-case-keys"
GROUPINGS = ("dossier_cases", "actor_cases")


def _grouper(kind: str, dossiers: pd.DataFrame, pseudonymise: Callable[[str], str]) -> Callable:
    if kind == "dossier_cases":
        return lambda s, chosen: dossier_cases(s, chosen=chosen)
    return lambda s, chosen: actor_cases(s, dossiers, pseudonymise, chosen=chosen)


def review_by_month(
    scored: pd.DataFrame,
    dossiers: pd.DataFrame,
    truth: pd.Series,
    *,
    grouping: str,
    cases_per_month: int,
    actor_of: pd.Series,
    pseudonymise: Callable[[str], str],
    teach_weight: float = 0.25,
) -> dict[str, Any]:
    """Simulate the team's monthly reviews of one kind of case (module docstring).

    ``truth`` maps dossier_id to proxy_type; ``actor_of`` maps each flagged
    dossier to its actor case key.
    """
    s = _with_ids(scored)
    ids = s["dossier_id"].to_numpy()
    flagged = s["flagged"].to_numpy(bool)
    d = dossiers.drop_duplicates("dossier_id", keep="last").set_index("dossier_id")
    month = _month(d["submitted_at"]).reindex(ids).to_numpy(object)
    misuse = truth.reindex(ids).isin(MISUSE_TYPES).to_numpy()
    group = _grouper(grouping, dossiers, pseudonymise)
    reviewed = np.zeros(len(s), bool)
    row_of = pd.Index(ids)
    per_month: list[dict[str, Any]] = []
    months = sorted({m for m in month[flagged] if isinstance(m, str)})
    for m in months:
        chosen = flagged & (month <= m) & ~reviewed
        if not chosen.any():
            continue
        cases = group(s, chosen)
        top = rank_cases(cases, teach_weight=teach_weight)["case_key"].head(cases_per_month)
        covered = cases[cases["case_key"].isin(top)]
        rows = row_of.get_indexer(covered["dossier_id"].to_numpy())
        reviewed[rows] = True
        hit = pd.Series(misuse[rows]).groupby(covered["case_key"].to_numpy()).any()
        per_month.append(
            {
                "month": m,
                "cases_reviewed": len(hit),
                "cases_with_misuse": int(hit.sum()),
                "dossiers_reviewed": len(rows),
                "misuse_confirmed": int(misuse[rows].sum()),
            }
        )
    confirmed = reviewed & misuse
    n_cases = int(sum(p["cases_reviewed"] for p in per_month))
    n_hit = int(sum(p["cases_with_misuse"] for p in per_month))
    return {
        "cases_reviewed": n_cases,
        "cases_with_misuse": n_hit,
        "precision": n_hit / n_cases if n_cases else None,
        "dossiers_reviewed": int(reviewed.sum()),
        "misuse_confirmed": int(confirmed.sum()),
        "misuse_found_share": float(confirmed.sum() / misuse.sum()) if misuse.any() else None,
        "actors_confirmed": int(actor_of.reindex(ids[confirmed]).nunique()),
        "months": per_month,
    }


def coverage(cases: pd.DataFrame, misuse: np.ndarray, misuse_total: int) -> dict[str, Any]:
    """How many cases the queue holds, and how many a team must review to find all its misuse."""
    has = pd.Series(misuse).groupby(cases["case_key"].to_numpy()).any()
    return {
        "cases": len(has),
        "cases_with_misuse": int(has.sum()),
        "misuse_flagged": int(misuse.sum()),
        "recall": float(misuse.sum() / misuse_total) if misuse_total else None,
    }


def capacity_in_cases(
    scored: pd.DataFrame,
    dossiers: pd.DataFrame,
    truth: pd.Series,
    *,
    cases_per_month: int = 60,
    pseudonymise: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Dossier cases and actor cases side by side, at ``cases_per_month`` reviews a month.

    Parameters
    ----------
    scored : scores of the judged dossiers (``dossier_id``, ``risk_score``,
        ``proxy_type``, ``flagged``, class probabilities when present).
    dossiers : the contract's dossiers table (at least the scored dossiers).
    truth : proxy_type per dossier_id (the judged dossiers' true labels).
    cases_per_month : the team's capacity.
    pseudonymise : for the case keys; by default a fixed internal key, the
        keys never leaving the process.

    Returns
    -------
    dict
        ``cases_per_month``; ``coverage`` per grouping (cases in the queue,
        cases holding misuse, i.e. the reviews needed to find all the flagged
        misuse, and the recall that gives, the same for both); per grouping the
        monthly review (:func:`review_by_month`); ``actor_vs_dossier``: the
        ratios of cases needed for full coverage and of misuse confirmed.
    """
    if cases_per_month < 1:
        raise ValueError(f"cases_per_month must be at least 1, found {cases_per_month}")
    hide = pseudonymise or pseudonymiser(_INTERNAL_KEY, digest_size=6)
    s = _with_ids(scored)
    actors = actor_cases(s, dossiers, hide)
    actor_of = actors.set_index("dossier_id")["case_key"]
    misuse_total = int(truth.reindex(s["dossier_id"].to_numpy()).isin(MISUSE_TYPES).sum())
    out: dict[str, Any] = {"cases_per_month": cases_per_month, "coverage": {}}
    for kind, cases in (("dossier_cases", dossier_cases(s)), ("actor_cases", actors)):
        mis = truth.reindex(cases["dossier_id"].to_numpy()).isin(MISUSE_TYPES).to_numpy()
        out["coverage"][kind] = coverage(cases, mis, misuse_total)
    for kind in GROUPINGS:
        out[kind] = review_by_month(
            s,
            dossiers,
            truth,
            grouping=kind,
            cases_per_month=cases_per_month,
            actor_of=actor_of,
            pseudonymise=hide,
        )
    cov, dc, ac = out["coverage"], out["dossier_cases"], out["actor_cases"]
    need_d, need_a = (
        cov["dossier_cases"]["cases_with_misuse"],
        cov["actor_cases"]["cases_with_misuse"],
    )
    out["actor_vs_dossier"] = {
        "cases_to_cover_misuse_ratio": need_a / need_d if need_d else None,
        "misuse_confirmed_ratio": ac["misuse_confirmed"] / dc["misuse_confirmed"]
        if dc["misuse_confirmed"]
        else None,
    }
    return out
