"""Verdicts as training labels (``detector train --labels-from-db``).

A reviewed case says who really filed its dossier: a ``misuse`` verdict with
its type (identity misuse, officer proxy) or a ``legitimate`` one with its
type (self, family, authorized, assisted). Those are labels in the
contract's sense; ``needs_info`` verdicts are not (the team has not decided).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from features.contract import PROXY_TYPES
from service.cases.models import Case, Verdict

__all__ = ["LABEL_COLUMNS", "merge_labels", "verdict_labels"]

LABEL_COLUMNS = ["dossier_id", "proxy_type"]


def verdict_labels(s: Session) -> pd.DataFrame:
    """One label per case from its latest verdict, when that verdict decided.

    Parameters
    ----------
    s
        A session of the case store.

    Returns
    -------
    pandas.DataFrame
        ``dossier_id``, ``proxy_type`` (sorted by dossier_id), one row per
        case whose latest verdict is ``misuse`` or ``legitimate``. A case
        whose latest verdict is ``needs_info`` gives no label even if an
        earlier verdict decided: the team has reopened the question.

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
        sa.select(Case.dossier_id, Verdict.proxy_type)
        .join(latest, latest.c.case_id == Case.id)
        .join(Verdict, Verdict.id == latest.c.vid)
        .where(Verdict.decision.in_(("misuse", "legitimate")))
        .order_by(Case.dossier_id)
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=LABEL_COLUMNS, dtype=object)
    return frame[frame["proxy_type"].isin(PROXY_TYPES)].reset_index(drop=True)


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
        ``dossier_id``, ``proxy_type``, one row per dossier, sorted by dossier_id.

    Notes
    -----
    A verdict wins because it is the newer and the closer look: the team
    reviewed that very dossier with its evidence, while a label file is
    usually an older, bulk export. A file that repeats a dossier keeps its
    first row, as :func:`features.read_labels` does.
    """
    parts = [verdicts[LABEL_COLUMNS].assign(_rank=0)]
    if file_labels is not None:
        missing = [c for c in LABEL_COLUMNS if c not in file_labels.columns]
        if missing:
            raise ValueError(f"labels: expected columns dossier_id, proxy_type; missing {missing}")
        parts.append(file_labels[LABEL_COLUMNS].assign(_rank=1))
    both = pd.concat(parts, ignore_index=True).astype({"dossier_id": str})
    both = both.sort_values(["dossier_id", "_rank"], kind="stable")
    merged = both.drop_duplicates("dossier_id", keep="first")
    return merged[LABEL_COLUMNS].reset_index(drop=True)
