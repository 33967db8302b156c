"""The starter detector: trained on provinces simulated like this one, for a team with no labels.

A province that deploys the detector next month has no verdicts. The starter
model measures the province's own unlabelled data (:func:`detector.profile.measure`),
simulates several provinces around those measurements with everything that
cannot be measured drawn at random (:func:`detector.profile.provinces_like`),
computes the same features on them as on a real folder (they are written in
the contract's format and read back through :func:`features.read_dataset`,
dirt included) and fits the usual :class:`~detector.scorer.Detector` (rules
and trees) on their labels. The last simulated provinces are held out of the
trees and calibrate the risk and the threshold, as later months do for a
province with labels: a new province is what the model must generalise to.

Features that a simulation cannot be trusted to reproduce are hidden from
the starter's trees (:data:`UNTRUSTED`): their values in a real province
depend on local habits, not on misuse, so a model fitted on simulated values
would carry the simulator's habits into the province's scores.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from detector.simulate import SimConfig, simulate, write_province
from features import read_dataset
from features.compute import compute_all

__all__ = [
    "STARTER_PROVINCES",
    "UNTRUSTED",
    "TrainingSet",
    "hide_untrusted",
    "simulated_training_set",
]

Progress = Callable[[str], None]

#: simulated provinces a starter model learns from (the last ones calibrate it)
STARTER_PROVINCES = 6
#: features hidden from the starter's trees (module docstring): the owner's age (a simulator's age mix
#: would turn into a rule about old people, whom relatives often file for), the unit's target
#: (set by each province), the procedure's volume (its own catalogue) and how the papers were
#: attached (scan, photo, digital: the domain says nothing of it; the simulator's officers scan at
#: the desk, and a starter that learnt it flagged relatives who scan an elderly parent's papers)
UNTRUSTED = (
    "owner_age",
    "unit_target",
    "proc_prior",
    "proc_deceased_prior",
    "attachment_kind",
)


@dataclass
class TrainingSet:
    """Feature frames of simulated provinces, one after the other, with their truth.

    ``order`` sorts the rows province by province, then by submission time:
    :class:`~detector.model.MisuseModel` calibrates on the latest rows, which
    are then the last provinces'. ``province`` numbers each row's province.
    """

    frames: dict[str, pd.DataFrame]
    y: pd.Series
    order: pd.Series
    province: np.ndarray
    configs: list[SimConfig]


def _one(cfg: SimConfig, moments: tuple[str, ...]) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """One simulated province's features at each moment, and its labels on the same rows."""
    province = simulate(cfg)
    with tempfile.TemporaryDirectory(prefix="detector-starter-") as tmp:
        data = write_province(province, tmp, fmt="parquet")
        ds = read_dataset(data)
    feats = compute_all(ds.tables, ds.present, moments)
    labels = province.labels.drop_duplicates("dossier_id").set_index("dossier_id")["proxy_type"]
    index = feats[moments[0]].frame.index
    return {at: feats[at].frame for at in moments}, labels.reindex(index)


#: the last training set made, by its settings: a process that trains several detectors for
#: one province (evaluate's conditions, the queue benchmark's monthly retraining) simulates once
_LAST: dict[str, TrainingSet] = {}


def simulated_training_set(
    configs: list[SimConfig],
    moments: tuple[str, ...] = ("submission", "review"),
    progress: Progress | None = None,
) -> TrainingSet:
    """Simulate each province, read it back as a real folder, compute its features.

    The same settings asked again in the same process give the same set back
    (simulation is deterministic per setting), without simulating again.

    Notes
    -----
    About 3 s per 50,000 simulated dossiers on this 2-core machine (simulating,
    writing Parquet, reading, both moments' features).
    """
    key = repr((configs, moments))
    if key in _LAST:
        return _LAST[key]
    made = _simulate_all(configs, moments, progress)
    _LAST.clear()
    _LAST[key] = made
    return made


def _simulate_all(
    configs: list[SimConfig], moments: tuple[str, ...], progress: Progress | None
) -> TrainingSet:
    frames: dict[str, list[pd.DataFrame]] = {at: [] for at in moments}
    ys, orders, groups = [], [], []
    for i, cfg in enumerate(configs):
        if progress:
            progress(f"simulating province {i + 1} of {len(configs)} ({cfg.dossiers:,} dossiers)")
        per, y = _one(cfg, moments)
        for at in moments:
            frames[at].append(per[at].reset_index(drop=True))
        ys.append(y.reset_index(drop=True))
        # province-major, then time: the model's "latest rows" are the last provinces
        seconds = np.arange(len(y), dtype=np.int64)
        orders.append(pd.Series(i * 10**9 + seconds))
        groups.append(np.full(len(y), i))
    return TrainingSet(
        frames={at: pd.concat(frames[at], ignore_index=True) for at in moments},
        y=pd.concat(ys, ignore_index=True),
        order=pd.concat(orders, ignore_index=True),
        province=np.concatenate(groups),
        configs=configs,
    )


def hide_untrusted(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with :data:`UNTRUSTED` features unknown, so the trees cannot split on them."""
    out = frame.copy()
    for col in UNTRUSTED:
        if col not in out.columns:
            continue
        if isinstance(out[col].dtype, pd.CategoricalDtype):  # unknown, still of its categories
            out[col] = pd.Categorical.from_codes(np.full(len(out), -1), dtype=out[col].dtype)
        else:
            out[col] = np.nan
    return out
