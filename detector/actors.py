"""Cases by actor: review a broker's account once, not each of its dossiers (issue #13).

Inspectors act on **actors** (an account, a device, a phone, a payment token,
an officer, a unit in a month) and sanction them once. :func:`actor_cases`
groups the chosen dossiers (the flagged ones, by default) into cases around
the actor that explains each of them; :func:`rank_cases` orders the cases of a
queue by the misuse a review is expected to find; :func:`dossier_cases` is
today's queue (one case per dossier) in the same shape, so the two can be
compared (:mod:`detector._case_capacity`, ``detector evaluate``);
:func:`candidate_keys` gives the keys a dossier flagged live could join.
All are pure functions over frames: the case store calls them, they know
nothing of it.

Which actor explains a dossier (deterministic, first rule that applies):

1. A dossier the scorer types ``officer_proxy`` goes to the **officer** who
   accepted it (``received_by``) when that officer accepted at least
   ``min_dossiers`` of the chosen officer-proxy dossiers; else to its
   **unit × month** when that holds at least ``min_dossiers`` of them. The
   officer, not the account they typed into, is who an inspector sanctions,
   and a unit behind its online target is the pattern when no officer is
   recorded.
2. Otherwise, among the dossier's shared resources (``account_id``,
   ``device_id``, ``contact_phone``, ``payer_token``) used by at least
   ``min_dossiers`` chosen dossiers, the one that served the most distinct
   owners among them; ties go to more dossiers, then to the order above
   (account first). A broker's account, or the one device behind several
   rented accounts, serves many unrelated owners: that count is the evidence.
3. Otherwise the dossier is a case of its own (``actor_kind`` ``dossier``).

Counts are taken over the chosen dossiers only: a hall kiosk that served
thousands of legitimate owners does not become an actor unless its flagged
dossiers share it. Each dossier belongs to exactly one case.

Case keys never hold a personal value in clear: ``<kind>:<pseudonym>`` with
the caller's keyed pseudonymiser (the evidence graphs' one,
``service.cases._private.evidence_pseudonymiser``, so a case key matches the
graph's node names), except ``unit_month:<unit_id>:<YYYY-MM>`` (units are
public bodies) and ``dossier:<dossier_id>`` (an opaque number). The
``actor_label`` shows the value masked (:func:`features.mask_value`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import numpy as np
import pandas as pd

from features import mask_value
from features.contract import LOCAL_TZ, MISUSE_TYPES, PROXY_TYPES

__all__ = [
    "ACTOR_KINDS",
    "CASE_COLUMNS",
    "RANK_COLUMNS",
    "RESOURCES",
    "actor_cases",
    "candidate_keys",
    "dossier_cases",
    "misuse_probability",
    "rank_cases",
]

#: shared resources that can explain a dossier, in tie-break order: actor kind -> dossiers column
RESOURCES: dict[str, str] = {
    "account": "account_id",
    "device": "device_id",
    "phone": "contact_phone",
    "payment_token": "payer_token",
}
#: every actor kind, ``dossier`` being a case of one dossier
ACTOR_KINDS = (*RESOURCES, "officer", "unit_month", "dossier")
#: columns of :func:`actor_cases` (one row per dossier; the case's aggregates repeat on its rows)
CASE_COLUMNS = [
    "case_key",
    "actor_kind",
    "actor_label",
    "dossier_id",
    "risk_score",
    "p_misuse",
    "proxy_type",
    "n_dossiers",
    "n_owners",
    "expected_misuse",
    "max_risk",
    "main_type",
]
#: columns of :func:`rank_cases` (one row per case with a dossier not yet reviewed)
RANK_COLUMNS = [
    "rank",
    "case_key",
    "actor_kind",
    "actor_label",
    "n_dossiers",
    "n_open",
    "expected_misuse",
    "uncertainty",
    "priority",
    "max_risk",
    "main_type",
]
#: predicted types in the order that breaks a tie for a case's main type (misuse first)
_TYPE_ORDER = tuple(dict.fromkeys((*MISUSE_TYPES, *PROXY_TYPES)))


def misuse_probability(scored: pd.DataFrame) -> np.ndarray:
    """Each dossier's probability of misuse: ``p_identity_misuse + p_officer_proxy``.

    The detector's risk when the frame has no class probabilities (``detector
    score`` without ``--details``).
    """
    cols = [f"p_{t}" for t in MISUSE_TYPES]
    if all(c in scored.columns for c in cols):
        p = scored[cols].to_numpy(float).sum(axis=1)
    else:
        p = scored["risk_score"].to_numpy(float)
    return np.clip(np.nan_to_num(p, nan=0.0), 0.0, 1.0)


def _with_ids(scored: pd.DataFrame) -> pd.DataFrame:
    if "dossier_id" in scored.columns:
        return scored.reset_index(drop=True)
    return scored.rename_axis("dossier_id").reset_index()


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of the values, -1 for unknown (missing or blank)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    blank = (pd.Series(uniques, dtype=object).astype(str).str.strip() == "").to_numpy()
    if blank.any():
        codes = np.where((codes >= 0) & blank[np.maximum(codes, 0)], -1, codes)
    return codes


def _distinct_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The ``a`` of each distinct (a, b) pair of non-negative codes (hashing, not sorting)."""
    key = a.astype(np.int64) * (int(b.max(initial=0)) + 1) + b
    return pd.unique(key) // (int(b.max(initial=0)) + 1)


def _group_sizes(
    codes: np.ndarray, owners: np.ndarray, among: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: how many rows (of ``among``) share its code, and how many distinct owners."""
    c = np.where(among, codes, -1)
    valid = c >= 0
    size = np.zeros(len(c), np.int64)
    n_own = np.zeros(len(c), np.int64)
    if not valid.any():
        return size, n_own
    k = int(c.max()) + 1
    counts = np.bincount(c[valid], minlength=k)
    distinct = np.bincount(_distinct_pairs(c[valid], owners[valid]), minlength=k)
    size[valid], n_own[valid] = counts[c[valid]], distinct[c[valid]]
    return size, n_own


def _month(t: pd.Series) -> pd.Series:
    """``YYYY-MM`` in local time (NaN when unknown), formatted once per distinct month."""
    t = pd.to_datetime(t, utc=True, errors="coerce").dt.tz_convert(LOCAL_TZ)
    ym = (t.dt.year * 100 + t.dt.month).to_numpy(float)
    codes, uniques = pd.factorize(ym, use_na_sentinel=True)
    text = np.array([f"{int(u) // 100:04d}-{int(u) % 100:02d}" for u in uniques] + [np.nan], object)
    return pd.Series(text[codes], index=t.index)


def _joined(scored: pd.DataFrame, dossiers: pd.DataFrame, chosen: object) -> pd.DataFrame:
    s = _with_ids(scored)
    keep = s["flagged"].to_numpy(bool) if chosen is None else np.asarray(chosen, bool)
    if len(keep) != len(s):
        raise ValueError(f"chosen has {len(keep)} values for {len(s)} scored dossiers")
    s = s[keep].reset_index(drop=True)
    d = dossiers.drop_duplicates("dossier_id", keep="last")
    rows = pd.Index(d["dossier_id"]).get_indexer(s["dossier_id"])
    if (rows < 0).any():
        missing = s["dossier_id"].to_numpy()[rows < 0][:3].tolist()
        raise ValueError(f"scored dossiers not in the dossiers table, e.g. {missing}")
    wanted = (*RESOURCES.values(), "owner_id", "received_by", "unit_id", "submitted_at")
    f = d[[c for c in wanted if c in d.columns]].take(rows).reset_index(drop=True)
    for c in wanted:
        if c not in f.columns:
            f[c] = None
    f["dossier_id"] = s["dossier_id"].to_numpy()
    f["risk_score"] = s["risk_score"].to_numpy(float)
    f["p_misuse"] = misuse_probability(s)
    f["proxy_type"] = s["proxy_type"].to_numpy(object) if "proxy_type" in s else None
    return f


def actor_cases(
    scored: pd.DataFrame,
    dossiers: pd.DataFrame,
    pseudonymise: Callable[[str], str],
    *,
    chosen: np.ndarray | pd.Series | None = None,
    min_dossiers: int = 2,
) -> pd.DataFrame:
    """Group dossiers into cases around the actor that explains each of them.

    Parameters
    ----------
    scored : what :meth:`detector.scorer.Detector.score_frame` or ``detector
        score`` returns (``dossier_id`` as a column or the index; ``risk_score``,
        ``proxy_type``, ``flagged`` and, when present, ``p_<proxy_type>``).
    dossiers : the contract's ``dossiers`` table (``dossier_id``, ``unit_id``,
        ``submitted_at`` and any of ``account_id``, ``device_id``,
        ``contact_phone``, ``payer_token``, ``owner_id``, ``received_by``; a
        missing column is an actor kind that never applies).
    pseudonymise : keyed pseudonymiser of personal values (see the module docstring).
    chosen : which scored rows to group (boolean, aligned with ``scored``);
        default: the flagged ones.
    min_dossiers : fewest chosen dossiers an actor needs to make a case.

    Returns
    -------
    DataFrame
        One row per chosen dossier, :data:`CASE_COLUMNS`: ``case_key``,
        ``actor_kind`` (:data:`ACTOR_KINDS`), ``actor_label`` (masked),
        ``dossier_id``, the dossier's ``risk_score``, ``p_misuse``
        (:func:`misuse_probability`) and ``proxy_type``, and the case's
        ``n_dossiers``, ``n_owners``, ``expected_misuse`` (sum of ``p_misuse``),
        ``max_risk`` and ``main_type`` (the most frequent predicted type, misuse
        first on a tie). Sorted by case, largest expected misuse first.

    Raises
    ------
    ValueError
        ``chosen`` of the wrong length, or a scored dossier not in ``dossiers``.

    Notes
    -----
    The choice is in the module docstring. Hash-based counts (``pd.factorize``,
    ``pd.unique`` on owner pairs), linear in the chosen dossiers, one
    pseudonym per distinct actor and one sort of the cases; see
    ``bench/actor_cases.py`` for the time at a million dossiers.
    """
    f = _joined(scored, dossiers, chosen)
    n = len(f)
    ids = f["dossier_id"].astype(object).to_numpy()
    owner = f["owner_id"].astype(object).to_numpy()
    owners, _ = pd.factorize(np.where(pd.isna(owner), "~" + ids.astype(str), owner))
    everyone = np.ones(n, bool)
    # rule 2: the resource that served the most distinct owners
    best = np.full(n, -1, np.int64)
    kind = np.full(n, "dossier", dtype=object)
    value = ids.copy()
    for kname, col in RESOURCES.items():
        size, n_own = _group_sizes(_codes(f[col]), owners, everyone)
        score = np.where(size >= min_dossiers, n_own * (n + 1) + size, -1)
        better = score > best  # strictly: ties keep the earlier kind
        best = np.where(better, score, best)
        kind[better] = kname
        value[better] = f[col].to_numpy(object)[better]
    # rule 1: officer-proxy dossiers go to their officer, else their unit x month
    op = (f["proxy_type"] == "officer_proxy").to_numpy(bool)
    if op.any():
        month = _month(f["submitted_at"]).fillna("unknown")
        unit_month = (f["unit_id"].astype(str) + " " + month).where(f["unit_id"].notna())
        staff_size, _ = _group_sizes(_codes(f["received_by"]), owners, op)
        um_size, _ = _group_sizes(_codes(unit_month), owners, op)
        by_staff = op & (staff_size >= min_dossiers)
        by_unit = op & ~by_staff & (um_size >= min_dossiers)
        kind[by_staff], value[by_staff] = "officer", f["received_by"].to_numpy(object)[by_staff]
        kind[by_unit], value[by_unit] = "unit_month", unit_month.to_numpy(object)[by_unit]

    key = np.empty(n, object)
    label = np.empty(n, object)
    single = kind == "dossier"
    key[single] = np.char.add("dossier:", ids[single].astype(str)).astype(object)
    label[single] = ids[single]
    um = kind == "unit_month"
    if um.any():  # "U3 2025-07" -> unit_month:U3:2025-07
        codes, uniques = pd.factorize(value[um])
        key[um] = np.array(["unit_month:" + u.replace(" ", ":") for u in uniques], object)[codes]
        label[um] = value[um]
    for kname in (*RESOURCES, "officer"):  # one pseudonym per distinct actor
        rows = kind == kname
        if rows.any():
            codes, uniques = pd.factorize(value[rows])
            key[rows] = np.array([f"{kname}:{pseudonymise(str(v))}" for v in uniques], object)[
                codes
            ]
            label[rows] = np.array([mask_value(v) for v in uniques], object)[codes]
    out = pd.DataFrame({"case_key": key, "actor_kind": kind, "actor_label": label})
    for c in ("dossier_id", "risk_score", "p_misuse", "proxy_type"):
        out[c] = f[c].to_numpy()
    return _aggregate(out, owners)


def dossier_cases(
    scored: pd.DataFrame, *, chosen: np.ndarray | pd.Series | None = None
) -> pd.DataFrame:
    """Today's queue in :func:`actor_cases`' shape: every chosen dossier a case of its own."""
    s = _with_ids(scored)
    keep = s["flagged"].to_numpy(bool) if chosen is None else np.asarray(chosen, bool)
    s = s[keep].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "actor_kind": "dossier",
            "case_key": "dossier:" + s["dossier_id"].astype(str),
            "actor_label": s["dossier_id"].astype(str),
            "dossier_id": s["dossier_id"].to_numpy(),
            "risk_score": s["risk_score"].to_numpy(float),
            "p_misuse": misuse_probability(s),
            "proxy_type": s["proxy_type"].to_numpy(object) if "proxy_type" in s else None,
        }
    )
    return _aggregate(out, np.arange(len(out)))


def _aggregate(out: pd.DataFrame, owners: np.ndarray) -> pd.DataFrame:
    """Add the case's aggregates to each of its rows; order cases by expected misuse."""
    case, keys = pd.factorize(out["case_key"])
    k = len(keys)
    p, risk = out["p_misuse"].to_numpy(float), out["risk_score"].to_numpy(float)
    size = np.bincount(case, minlength=k)
    expected = np.bincount(case, weights=p, minlength=k)
    max_risk = np.full(k, -np.inf)
    np.maximum.at(max_risk, case, risk)
    n_owners = np.bincount(_distinct_pairs(case, owners), minlength=k)
    # main type: the most frequent predicted type, misuse types first on a tie
    order = list(_TYPE_ORDER)
    t = pd.Categorical(out["proxy_type"].to_numpy(object), categories=order).codes
    t = np.where(t < 0, len(order), t)
    per_type = np.bincount(case * (len(order) + 1) + t, minlength=k * (len(order) + 1))
    main = per_type.reshape(k, len(order) + 1).argmax(axis=1)  # first maximum: misuse first
    names = np.array([*order, None], object)
    out["n_dossiers"] = size[case]
    out["n_owners"] = n_owners[case]
    out["expected_misuse"] = expected[case]
    out["max_risk"] = max_risk[case]
    out["main_type"] = names[main][case]
    # cases by expected misuse (then key); inside a case, by risk (then input order)
    case_rank = np.empty(k, np.int64)
    case_rank[np.lexsort((np.asarray(keys, str), -expected))] = np.arange(k)
    rows = np.lexsort((np.arange(len(out)), -risk, case_rank[case]))
    return out.iloc[rows][CASE_COLUMNS].reset_index(drop=True)


def candidate_keys(
    dossier: Mapping[str, object], proxy_type: str | None, pseudonymise: Callable[[str], str]
) -> list[str]:
    """The case keys one newly flagged dossier could join, the preferred kinds first.

    For the live path (the scoring API flags one dossier at a time): the
    service looks these keys up among its open cases and joins the dossier to
    a match, preferring, as :func:`actor_cases` does, the officer and then the
    unit x month for an officer proxy, and otherwise the matching resource case
    with most distinct owners (``n_owners``); with no match the dossier opens
    a case of its own (the last key). A key is built exactly as
    :func:`actor_cases` builds it, so batch and live cases meet.

    Parameters
    ----------
    dossier : one dossier's fields (the contract's ``dossiers`` columns;
        ``submitted_at`` a timestamp or an ISO 8601 string).
    proxy_type : the type the scorer predicted.
    pseudonymise : the same keyed pseudonymiser as for :func:`actor_cases`.
    """

    def known(v: object) -> bool:
        return v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v).strip() != ""

    keys: list[str] = []
    if proxy_type == "officer_proxy":
        if known(dossier.get("received_by")):
            keys.append(f"officer:{pseudonymise(str(dossier['received_by']))}")
        unit, at = dossier.get("unit_id"), dossier.get("submitted_at")
        if known(unit) and known(at):
            month = _month(pd.Series([at])).iloc[0]
            keys.append(f"unit_month:{unit}:{month if isinstance(month, str) else 'unknown'}")
    for kind, col in RESOURCES.items():
        if known(dossier.get(col)):
            keys.append(f"{kind}:{pseudonymise(str(dossier[col]))}")
    keys.append(f"dossier:{dossier['dossier_id']}")
    return keys


def rank_cases(
    cases: pd.DataFrame,
    reviewed: Collection[str] | pd.Series | np.ndarray | None = None,
    *,
    teach_weight: float = 0.25,
) -> pd.DataFrame:
    """Order a queue's cases by the misuse one review is expected to find, plus what it would teach.

    Parameters
    ----------
    cases : :func:`actor_cases` or :func:`dossier_cases` (``case_key``,
        ``dossier_id``, ``p_misuse``; the other :data:`CASE_COLUMNS` are carried
        when present).
    reviewed : dossiers that already carry a verdict: their ids, or a boolean
        mask aligned with ``cases``.
    teach_weight : weight of the uncertainty term.

    Returns
    -------
    DataFrame
        One row per case that still has a dossier without a verdict,
        :data:`RANK_COLUMNS`, best first: ``rank`` (1 = review first), ``n_open``
        (dossiers without a verdict), ``expected_misuse`` (the sum of their
        misuse probabilities), ``uncertainty`` (the sum of ``p (1 - p)`` over
        them) and ``priority``.

    Notes
    -----
    ``priority = expected_misuse + teach_weight * uncertainty``. A verdict on a
    case confirms or clears each of its open dossiers, so what a review finds
    is the sum of their probabilities; ``p (1 - p)``, the variance of each
    dossier's outcome, is what the verdict would teach the model (largest at
    even odds, nothing for a dossier the model is sure of). The term is
    bounded by a quarter of ``teach_weight`` per dossier, so it breaks near
    ties and lifts uncertain cases a little without pulling reviews away from
    likely misuse. Ties go to the higher maximum risk, then the case key, so
    the order is deterministic. Pure: the service can call it on the case
    store's frames.
    """
    if teach_weight < 0:
        raise ValueError(f"teach_weight must not be negative, found {teach_weight}")
    if reviewed is None:
        done = np.zeros(len(cases), bool)
    elif isinstance(reviewed, (pd.Series, np.ndarray)) and np.asarray(reviewed).dtype == bool:
        done = np.asarray(reviewed, bool)
    else:
        done = cases["dossier_id"].isin(list(reviewed)).to_numpy()
    p = cases["p_misuse"].to_numpy(float)
    open_ = cases.loc[~done].assign(var=p[~done] * (1 - p[~done]))
    agg: dict[str, tuple[str, str]] = {
        "n_open": ("dossier_id", "size"),
        "expected_misuse": ("p_misuse", "sum"),
        "uncertainty": ("var", "sum"),
    }
    for c in ("actor_kind", "actor_label", "n_dossiers", "max_risk", "main_type"):
        if c in cases.columns:
            agg[c] = (c, "first")
    ranked = open_.groupby("case_key", sort=False).agg(**agg).reset_index()
    if "n_dossiers" not in ranked:
        ranked["n_dossiers"] = ranked["n_open"]
    if "max_risk" not in ranked:
        ranked["max_risk"] = open_.groupby("case_key", sort=False)["p_misuse"].max().to_numpy()
    for c in ("actor_kind", "actor_label", "main_type"):
        if c not in ranked:
            ranked[c] = None
    ranked["priority"] = ranked["expected_misuse"] + teach_weight * ranked["uncertainty"]
    ranked = ranked.sort_values(
        ["priority", "max_risk", "case_key"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    return ranked[RANK_COLUMNS]
