"""Verdicts as training labels (``detector train --labels-from-db``).

A reviewed case says who really filed its dossier: a ``misuse`` verdict with
its type (identity misuse, officer proxy) or a ``legitimate`` one with its
type (self, family, authorized, assisted). Those are labels in the
contract's sense; ``needs_info`` verdicts are not (the team has not decided).

A verdict on a case the queue flagged tells about the top of the queue
only; a verdict on a case drawn for exploration (:mod:`detector.explore`)
is part of a known-probability sample, so it counts ``1 / propensity`` and
may calibrate the risk (:func:`split_by_choice`).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from features.contract import PROXY_TYPES
from service.cases.models import Case, Verdict

__all__ = ["LABEL_COLUMNS", "VERDICT_COLUMNS", "merge_labels", "split_by_choice", "verdict_labels"]

LABEL_COLUMNS = ["dossier_id", "proxy_type"]
#: what :func:`verdict_labels` returns: the label, its weight in training and why its case was queued
VERDICT_COLUMNS = [*LABEL_COLUMNS, "weight", "chosen_by"]


def verdict_labels(s: Session) -> pd.DataFrame:
    """One label per case from its latest verdict, when that verdict decided.

    Parameters
    ----------
    s
        A session of the case store.

    Returns
    -------
    pandas.DataFrame
        ``dossier_id``, ``proxy_type``, ``weight`` (1 for a flagged case,
        1/propensity for an exploration case) and ``chosen_by`` (``queue``
        or ``exploration``), sorted by dossier_id, one row per case whose
        latest verdict is ``misuse`` or ``legitimate``. A case whose latest
        verdict is ``needs_info`` gives no label even if an earlier verdict
        decided: the team has reopened the question.

    Notes
    -----
    "Latest" is the highest verdict id (ids grow with time; two verdicts in
    the same instant are still ordered).
    """
    latest = (
        sa.select(Verdict.case_id, sa.func.max(Verdict.id).label("vid"))
        .group_by(Verdict.case_id)
        .subquery()
    )
    rows = s.execute(
        sa.select(Case.dossier_id, Verdict.proxy_type, Case.propensity, Case.chosen_by)
        .join(latest, latest.c.case_id == Case.id)
        .join(Verdict, Verdict.id == latest.c.vid)
        .where(Verdict.decision.in_(("misuse", "legitimate")))
        .order_by(Case.dossier_id)
    ).all()
    frame = pd.DataFrame(
        [tuple(r) for r in rows], columns=[*LABEL_COLUMNS, "propensity", "chosen_by"]
    )
    frame = frame.astype({"dossier_id": object, "proxy_type": object, "chosen_by": object})
    explored = frame["chosen_by"] == "exploration"
    frame["weight"] = 1.0
    frame.loc[explored, "weight"] = 1.0 / frame.loc[explored, "propensity"].astype(float)
    frame = frame[frame["proxy_type"].isin(PROXY_TYPES)].reset_index(drop=True)
    return frame[VERDICT_COLUMNS]


def split_by_choice(verdicts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The verdicts drawn for exploration, and those on cases the queue flagged.

    The first are a known-probability sample (they calibrate and count their
    weight); the second only train the trees (see :func:`detector.batch.train`).
    """
    explored = verdicts["chosen_by"] == "exploration"
    return (
        verdicts[explored].reset_index(drop=True),
        verdicts[~explored].reset_index(drop=True),
    )


def merge_labels(file_labels: pd.DataFrame | None, verdicts: pd.DataFrame) -> pd.DataFrame:
    """A label file's labels and the verdicts' together; **a verdict wins** on the same dossier.

    Parameters
    ----------
    file_labels
        ``dossier_id``, ``proxy_type`` from a labels file, or None.
    verdicts
        :func:`verdict_labels`.

    Returns
    -------
    pandas.DataFrame
        ``dossier_id``, ``proxy_type``, ``weight`` (a file's label counts 1),
        one row per dossier, sorted by dossier_id.

    Notes
    -----
    A verdict wins because it is the newer and the closer look: the team
    reviewed that very dossier with its evidence, while a label file is
    usually an older, bulk export. A file that repeats a dossier keeps its
    first row, as :func:`features.read_labels` does.
    """
    columns = [*LABEL_COLUMNS, "weight"]
    weight = verdicts["weight"] if "weight" in verdicts.columns else 1.0
    parts = [verdicts[LABEL_COLUMNS].assign(weight=weight, _rank=0)]
    if file_labels is not None:
        missing = [c for c in LABEL_COLUMNS if c not in file_labels.columns]
        if missing:
            raise ValueError(f"labels: expected columns dossier_id, proxy_type; missing {missing}")
        parts.append(file_labels[LABEL_COLUMNS].assign(weight=1.0, _rank=1))
    both = pd.concat(parts, ignore_index=True).astype({"dossier_id": str, "weight": float})
    both = both.sort_values(["dossier_id", "_rank"], kind="stable")
    merged = both.drop_duplicates("dossier_id", keep="first")
    return merged[columns].reset_index(drop=True)
