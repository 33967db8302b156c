"""The batch jobs behind ``detector train``, ``score`` and ``report``.

Each reads a data folder through :func:`features.read_dataset` (dirty rows are
reported and the good ones go on), computes features for the whole history
(earlier dossiers always count, whatever ``--since``/``--until`` say) and
writes the contract's outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from detector.artifacts import fingerprint, load, save
from detector.starter import STARTER_PROVINCES
from detector.training import fit_detectors
from features import Dataset, lookup, read_dataset, read_labels, str_isin
from features.compute import compute_all, compute_features
from features.contract import LOCAL_TZ, PROXY_TYPES
from features.errors import UsageError
from features.pit import seconds

Progress = Callable[[str], None]
SCORE_COLUMNS = ["dossier_id", "risk_score", "proxy_type", "flagged", "reasons"]
DETAIL_COLUMNS = ["data_gaps", "reasons_vi", "reasons_en", *[f"p_{c}" for c in PROXY_TYPES]]


def _say(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


def labels_for(ds: Dataset, labels_path: str | Path) -> pd.Series:
    """Labels aligned on the dossiers (NaN where a dossier has none).

    Raises
    ------
    UsageError
        The data folder has no usable dossier (train, evaluate and the rule
        backtest have nothing to learn from or judge), or none of the file's
        dossiers is in the folder.
    ContractError
        The labels file is unreadable.
    """
    return _labels(ds, labels_path, None)[0]


def train(
    data_dir: str | Path,
    labels_path: str | Path | None,
    out_dir: str | Path,
    *,
    rules_path: str | None = None,
    precision_target: float = 0.95,
    capacity: float | None = None,
    random_state: int = 0,
    progress: Progress | None = None,
    review_labels_path: str | Path | None = None,
    labels: pd.DataFrame | None = None,
    review_labels: pd.DataFrame | None = None,
    provinces: int = STARTER_PROVINCES,
    engine: str = "pandas",
    sample_rows: int = 1_000_000,
) -> dict[str, Any]:
    """Train a detector for each moment and save them with their card under ``out_dir``.

    Labels may be absent (a province on day one: the starter model), few (they
    join simulated provinces) or many (the province's own model); see
    :mod:`detector.training` for the policy and why.

    ``review_labels_path`` holds labels the review queue chose (the team's
    verdicts on its top). They win over ``labels_path`` on the same dossier and
    train the trees, but only ``labels_path``'s dossiers calibrate the risk and
    set the threshold: a queue's top is not a sample of the dossiers. Either
    may come as a frame instead (``labels``, ``review_labels``: ``dossier_id``,
    ``proxy_type`` and optionally ``weight``, how much a verdict counts).

    ``engine="dask"`` computes the features on a Dask cluster (the caller's
    client, :func:`detector.dask_engine.cluster`) and fits on a uniform sample
    of at most ``sample_rows`` dossiers (every labelled one while they fit):
    see :mod:`detector.dask_engine`.

    Raises
    ------
    UsageError
        A folder without dossiers, or labels none of which is in the folder.
    """
    if engine == "dask":
        from detector import dask_engine

        keep = _label_ids(labels_path, labels, review_labels_path, review_labels)
        features, ds, found, total = dask_engine.sample_features(
            data_dir, keep, sample_rows, progress=progress
        )
        outside = 0 if keep is None else len(keep) - found
    else:
        _say(progress, "reading the data folder")
        ds = read_dataset(data_dir)
        features = None
        outside = total = 0
    y, weight, not_found = _labels(ds, labels_path, labels)
    calibrate = None
    if review_labels_path is not None or review_labels is not None:
        chosen, chosen_weight, more = _labels(ds, review_labels_path, review_labels)
        not_found += more
        calibrate = ~(chosen.notna() & y.isna())  # in the file too: a sample's dossier
        y = chosen.combine_first(y)
        weight = chosen_weight.where(chosen.notna(), weight)
    # the times as they are (a million Timestamp objects would cost seconds to make and to sort)
    t = pd.Series(ds.tables["dossiers"]["submitted_at"].array, index=y.index)
    if features is None:
        _say(progress, "features at submission and at review")
        features = compute_all(ds.tables, ds.present)
    detectors, policy = fit_detectors(
        ds,
        features,
        y,
        t,
        calibrate=calibrate,
        sample_weight=weight if (weight != 1.0).any() else None,
        rules_path=rules_path,
        precision_target=precision_target,
        capacity=capacity,
        random_state=random_state,
        provinces=provinces,
        progress=progress,
    )
    labelled = y.notna()
    training = {
        "data_dir": str(data_dir),
        "policy": policy,
        "fingerprint": fingerprint(y.index.to_series()[labelled], y[labelled]),
        "dossiers": len(y),
        "labelled": int(labelled.sum()),
        "labels_not_in_folder": not_found if engine != "dask" else outside,
        "labels_chosen_by_review": 0 if calibrate is None else int((~calibrate).sum()),
        "label_counts": {k: int(v) for k, v in y.value_counts().items()},
        "period": [str(t.min()), str(t.max())],
        "labelled_period": [str(t[labelled].min()), str(t[labelled].max())]
        if labelled.any()
        else None,
        "tables_present": sorted(ds.present),
        "engine": engine,
    }
    if engine == "dask":
        training["dossiers"] = total
        training["sampled_dossiers"] = len(y)
    _say(progress, "saving")
    return save(out_dir, detectors, training)


def _label_ids(
    path: str | Path | None,
    frame: pd.DataFrame | None,
    review_path: str | Path | None,
    review_frame: pd.DataFrame | None,
) -> pd.Index | None:
    """The dossier IDs the label files and frames name (``None`` when there are no labels)."""
    ids: list[pd.Series] = []
    for p, f in ((path, frame), (review_path, review_frame)):
        if f is None and p is not None:
            f = read_labels(p)[0]
        if f is not None:
            ids.append(f["dossier_id"])
    return pd.Index(pd.concat(ids).unique()) if ids else None


def _labels(
    ds: Dataset, path: str | Path | None, frame: pd.DataFrame | None
) -> tuple[pd.Series, pd.Series, int]:
    """Labels on the folder's dossiers (NaN = none), their weights, and how many were not found.

    Raises
    ------
    UsageError
        A folder without dossiers, or labels none of which is in the folder.
    """
    ids = ds.tables["dossiers"]["dossier_id"]
    index = pd.Index(ids.to_numpy(), name="dossier_id")
    if ids.empty:
        raise UsageError(
            f"{ds.sources.get('dossiers', 'dossiers')}: no usable dossier (a header only, or every "
            "row set aside: see detector validate); there is nothing to learn from or judge"
        )
    if path is None and frame is None:
        return pd.Series(np.nan, index=index, dtype=object), pd.Series(1.0, index=index), 0
    if frame is None:
        frame, _report = read_labels(path)  # type: ignore[arg-type]
    where = str(path) if path is not None else "labels"
    frame = frame.drop_duplicates("dossier_id", keep="last").reset_index(drop=True)
    # one hash join in Arrow, both ways (pandas' isin and reindex on a million text IDs: ~10 s)
    found = str_isin(frame["dossier_id"], ids).to_numpy()
    if len(frame) and not found.any():
        raise UsageError(f"{where}: none of its dossier_id values is in the data folder's dossiers")
    w = frame["weight"] if "weight" in frame.columns else pd.Series(1.0, index=frame.index)
    label, given = lookup(
        ids, frame["dossier_id"], frame["proxy_type"], pd.to_numeric(w, errors="coerce")
    )
    y = pd.Series(label.to_numpy(), index=index)
    weight = pd.Series(given.fillna(1.0).to_numpy(), index=index)
    return y, weight, int((~found).sum())


def _window(ds: Dataset, since: str | None, until: str | None) -> np.ndarray:
    return window_mask(seconds(ds.tables["dossiers"]["submitted_at"]), since, until)


def window_mask(t_seconds: np.ndarray, since: str | None, until: str | None) -> np.ndarray:
    """Dossiers submitted in ``[since, until]`` (local days), from their times in int64 seconds.

    A day's bounds are whole seconds, so comparing the seconds is comparing
    the times (both engines use this).

    Raises
    ------
    UsageError
        A day that is not YYYY-MM-DD.
    """
    keep = np.ones(len(t_seconds), bool)
    for value, name in ((since, "--since"), (until, "--until")):
        if value is None:
            continue
        day = local_day(value, name)
        if name == "--since":
            keep &= t_seconds >= int(day.timestamp())
        else:
            keep &= t_seconds < int((day + pd.Timedelta(days=1)).timestamp())
    return keep


def local_day(value: str, name: str) -> pd.Timestamp:
    """Midnight of a YYYY-MM-DD day on the local clock; ``name`` is the option it came from."""
    try:
        return pd.Timestamp(value).tz_localize(LOCAL_TZ)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{name} must be a date YYYY-MM-DD (got {value!r})") from exc


def score_dataset(
    ds: Dataset,
    model_dir: str | Path,
    at: str = "review",
    since: str | None = None,
    until: str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Scores of the dossiers submitted in the window, with all earlier history counted."""
    if at not in ("submission", "review"):
        raise UsageError(f"--at must be review or submission (got {at!r})")
    det, _card = load(model_dir, at)
    keep = _window(ds, since, until)
    _say(progress, f"features at {at}")
    feats = compute_features(ds.tables, ds.present, at)
    _say(progress, "scoring")
    frame = feats.frame[keep]
    scored = det.score_frame(frame, feats.data_gaps[keep])
    scored.insert(0, "dossier_id", scored.index)
    return scored.reset_index(drop=True)


def score(
    data_dir: str | Path,
    model_dir: str | Path,
    at: str = "review",
    since: str | None = None,
    until: str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    _say(progress, "reading the data folder")
    return score_dataset(read_dataset(data_dir), model_dir, at, since, until, progress)


def unit_report(ds: Dataset, scored: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unit × month and officer × month: claimed vs estimated genuine online share.

    Suspected officer proxies are *expected counts* (the sum of each dossier's
    probability of being an officer proxy), not counts of flags, so the
    estimated genuine share is unbiased when the probabilities are calibrated.
    """
    d = ds.tables["dossiers"]
    s = scored.set_index("dossier_id").reindex(d["dossier_id"].to_numpy())
    frame = report_frame(d["unit_id"], d["submitted_at"], d["channel"], d["received_by"], s)
    return report_tables(*report_sums(frame))


def report_sums(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unit × month and officer × month sums of a :func:`report_frame` (one frame or one partition)."""
    g = frame.groupby(["unit_id", "month"], sort=True)
    units = pd.DataFrame(
        {
            "dossiers": g.size(),
            "online": g["online"].sum(),
            "p_proxy": g["p_proxy"].sum(),
            "flag_proxy": g["flag_proxy"].sum(),
        }
    )
    og = frame.dropna(subset=["officer"]).groupby(["officer", "unit_id", "month"], sort=True)
    officers = pd.DataFrame(
        {
            "dossiers": og.size(),
            "p_proxy": og["p_proxy"].sum(),
            "flag_proxy": og["flag_proxy"].sum(),
        }
    )
    return units, officers


def report_frame(
    unit: pd.Series,
    submitted_at: pd.Series,
    channel: pd.Series,
    received_by: pd.Series,
    scored: pd.DataFrame,
) -> pd.DataFrame:
    """Per dossier, what the unit report sums: unit, month, online, officer and the suspicion.

    ``scored`` is aligned with the dossiers row by row (NaN where a dossier
    was not scored: it counts as no suspicion).
    """
    online = (channel == "online").to_numpy()
    p_proxy = pd.to_numeric(scored["p_officer_proxy"], errors="coerce").fillna(0.0).to_numpy()
    flag = (scored["flagged"] == True) & (scored["proxy_type"] == "officer_proxy")  # noqa: E712
    return pd.DataFrame(
        {
            "unit_id": unit.to_numpy(),
            "month": submitted_at.dt.tz_convert(LOCAL_TZ).dt.strftime("%Y-%m").to_numpy(),
            "online": online,
            "officer": received_by.to_numpy(),
            "p_proxy": np.where(online, p_proxy, 0.0),
            "flag_proxy": flag.fillna(False).to_numpy(bool),
        }
    )


def report_tables(units: pd.DataFrame, officers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The unit and officer reports from their sums (``dossiers``, ``online``, ``p_proxy``, ``flag_proxy``).

    The sums may come from one frame or be added up over partitions
    (:mod:`detector.dask_engine`): the shares are formed once, here.
    """
    n = units["dossiers"]
    units = pd.DataFrame(
        {
            "dossiers": n,
            "claimed_online_share": units["online"] / n,
            "estimated_genuine_online_share": (units["online"] - units["p_proxy"]) / n,
            "suspected_officer_proxy": units["p_proxy"],
            "flagged_officer_proxy": units["flag_proxy"],
        }
    ).reset_index()
    officers = (
        pd.DataFrame(
            {
                "dossiers_accepted": officers["dossiers"],
                "suspected_officer_proxy": officers["p_proxy"],
                "flagged_officer_proxy": officers["flag_proxy"],
            }
        )
        .reset_index()
        .rename(columns={"officer": "staff_id"})
    )
    for df in (units, officers):
        for col in df.columns:
            if df[col].dtype.kind == "f":
                df[col] = df[col].round(4)
    return units, officers


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """CSV, or Parquet when the name ends in .parquet."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".parquet":
        df.to_parquet(p, index=False)
    else:  # pyarrow writes a million rows several times faster than pandas
        table = pa.Table.from_pandas(df, preserve_index=False)
        pacsv.write_csv(table, p, pacsv.WriteOptions(quoting_style="needed"))
    return p
