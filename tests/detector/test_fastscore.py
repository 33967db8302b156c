"""FastScorer gives, one dossier at a time, exactly what ``Detector.score_frame`` gives.

The detectors are the session's (``model_dir``, trained once through the real
command line on the small province); every dossier of the province is scored
both ways, at both moments: online and offline, flagged and not, with data
gaps (the benefit of the doubt) and without. The compiled trees are also
checked on a small model built by hand, where missing values, infinities and
categories the model never saw are common.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from detector._forest import Forest, RowLayout
from detector._scoring import row_values
from detector.artifacts import load
from detector.fastscore import FastScorer, RowScore
from detector.scorer import REASON_LIST, Detector
from features import read_dataset
from features.compute import FeatureFrame, compute_all
from features.contract import PROXY_TYPES

MOMENTS = ("submission", "review")
#: what "exactly" means here; the scorer is in fact bit for bit on this suite's data
TOLERANCE = 1e-12


@pytest.fixture(scope="module")
def features(province_dir: Path) -> dict[str, FeatureFrame]:
    ds = read_dataset(province_dir / "data")
    return compute_all(ds.tables, ds.present)


@pytest.fixture(scope="module")
def detectors(model_dir: Path) -> dict[str, Detector]:
    return {at: load(model_dir, at)[0] for at in MOMENTS}


@pytest.fixture(scope="module")
def scorers(detectors: dict[str, Detector]) -> dict[str, FastScorer]:
    return {at: FastScorer.from_detector(det) for at, det in detectors.items()}


#: rows as the API would send them: floats (NaN when unknown), str or NaN for categories
as_mappings = row_values


def differences(fast: RowScore, row: dict[str, Any]) -> list[str]:
    """What differs between a fast score and a row of score_frame (empty when they agree)."""
    found = []
    if abs(fast.risk_score - row["risk_score"]) > TOLERANCE:
        found.append(f"risk_score {fast.risk_score!r} != {row['risk_score']!r}")
    for c in PROXY_TYPES:
        if abs(fast.probabilities[f"p_{c}"] - row[f"p_{c}"]) > TOLERANCE:
            found.append(f"p_{c} {fast.probabilities[f'p_{c}']!r} != {row[f'p_{c}']!r}")
    fast_row = fast.as_row()
    assert REASON_LIST in fast_row  # the reasons themselves: codes, sentences, evidence values
    for key, got in fast_row.items():
        if key == "risk_score" or key.startswith("p_"):
            continue
        if got != row[key]:
            found.append(f"{key} {got!r} != {row[key]!r}")
    return found


def biggest_gap(fast: list[RowScore], frame: pd.DataFrame) -> float:
    cols = ["risk_score", *[f"p_{c}" for c in PROXY_TYPES]]
    got = np.array([[s.risk_score, *[s.probabilities[c] for c in cols[1:]]] for s in fast])
    return float(np.abs(got - frame[cols].to_numpy()).max())


# ------------------------------------------------------------------ every row
@pytest.mark.slow
@pytest.mark.parametrize("at", MOMENTS)
def test_every_dossier_scores_as_in_score_frame(
    at: str,
    features: dict[str, FeatureFrame],
    detectors: dict[str, Detector],
    scorers: dict[str, FastScorer],
) -> None:
    det, fs = detectors[at], scorers[at]
    X, gaps = features[at].frame, features[at].data_gaps
    expected = det.score_frame(X, gaps)
    fast = [fs.score(m, g) for m, g in zip(as_mappings(X), gaps.to_numpy(), strict=True)]
    rows = expected.to_dict("records")
    wrong = {
        i: d
        for i, (s, row) in enumerate(zip(fast, rows, strict=True))
        if (d := differences(s, row))
    }
    assert not wrong, f"{len(wrong)} rows differ, first: {next(iter(wrong.items()))}"
    assert biggest_gap(fast, expected) <= TOLERANCE

    # the comparison covered every path of score_frame
    online = (X["channel"] == "online").to_numpy()
    flagged = expected["flagged"].to_numpy()
    rs = det.ruleset_.score(X[online]).to_numpy()
    lowered = det.model_.predict_risk(X[online], rs)["doubt_lowered"].to_numpy()
    codes = expected.loc[flagged, "reasons"]
    assert (~online).sum() > 100 and online.sum() > 100
    assert 20 < flagged.sum() < len(X) / 5
    assert lowered.sum() > 20, "the benefit of the doubt lowered no score"
    assert (gaps != "").sum() > 100
    assert codes.str.contains(r"(?:^|;)M\.").sum() > 10, "no reason from the model"
    assert codes.str.contains(r"(?:^|;)R").sum() > 10, "no reason from a rule"


def test_reasons_carry_their_evidence(
    features: dict[str, FeatureFrame],
    detectors: dict[str, Detector],
    scorers: dict[str, FastScorer],
) -> None:
    det, fs = detectors["review"], scorers["review"]
    X = features["review"].frame
    rows = as_mappings(X.iloc[:3000])
    flagged = [s for s in (fs.score(m) for m in rows) if s.flagged]
    assert flagged
    rules = {r.id: r for r in det.rules_}
    for s in flagged:
        assert s.reasons, "a flag always comes with a reason"
        for r in s.reasons:
            if r.code in rules:  # a rule's reason shows the values of its evidence features
                assert list(r.evidence) == list(rules[r.code].evidence)
            elif r.code.startswith("M.") and r.code != "M.pattern":
                feature = r.code[2:]
                assert set(r.evidence) == {feature, "typical"}
                assert r.evidence["typical"] == det.typical_[feature]
                assert r.evidence[feature] is not None  # a missing value is never a reason


# --------------------------------------------------------- values the model never saw
def special_rows(X: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """Rows the data rarely or never has, as a frame (what pandas makes of them) and as mappings.

    - a category outside the column's categories (pd.Categorical turns it into NaN);
    - a declared category that the trees never saw in training (their encoder makes it NaN);
    - every feature unknown, online and not.
    """
    online = X[(X["channel"] == "online").to_numpy()]
    base = as_mappings(online.iloc[:3])
    martian = dict(base[0], holder_relation="martian", attachment_kind="hologram")
    unseen = dict(base[1], holder_relation="staff_other_unit", relation_kind="ward")
    blank: dict[str, object] = dict.fromkeys(X.columns, math.nan)
    blank_online = dict(blank, channel="online")
    mappings = [martian, unseen, blank, blank_online]
    frame = pd.DataFrame(mappings, index=[f"special-{i}" for i in range(len(mappings))])
    for col in X.columns:
        if isinstance(X[col].dtype, pd.CategoricalDtype):  # what compute_features makes of it
            cats = X[col].cat.categories
            frame[col] = pd.Categorical(frame[col].where(frame[col].isin(cats)), categories=cats)
        elif X[col].dtype.kind != "i":  # an integer column cannot hold NaN: float then
            frame[col] = frame[col].astype(X[col].dtype)
    return frame, mappings


@pytest.mark.parametrize("at", MOMENTS)
def test_unseen_categories_and_missing_values_score_as_in_score_frame(
    at: str,
    features: dict[str, FeatureFrame],
    detectors: dict[str, Detector],
    scorers: dict[str, FastScorer],
) -> None:
    X = features[at].frame
    frame, mappings = special_rows(X)
    assert frame["holder_relation"].isna().iloc[0]  # pandas dropped "martian"
    encoder = detectors[at].model_.trees_._preprocessor.named_transformers_["encoder"]
    seen = dict(zip(encoder.feature_names_in_, encoder.categories_, strict=True))
    assert "staff_other_unit" not in seen["holder_relation"]  # declared, never seen by the trees
    # among ordinary rows, so that score_frame runs the calibrator on a batch as usual
    expected = detectors[at].score_frame(pd.concat([X.iloc[:50], frame])).iloc[50:]
    for m, row, name in zip(mappings, expected.to_dict("records"), frame.index, strict=True):
        assert differences(scorers[at].score(m), row) == [], name
    # an unknown category is a missing value: the same score as NaN there
    as_nan = dict(mappings[0], holder_relation=math.nan, attachment_kind=math.nan)
    assert scorers[at].score(mappings[0]) == scorers[at].score(as_nan)
    blank = scorers[at].score(mappings[2])  # channel unknown: not online, so the declared type
    assert (blank.risk_score, blank.proxy_type, blank.flagged) == (0.0, "self", False)


def test_at_a_threshold_of_zero_offline_dossiers_are_explained_by_the_model(
    features: dict[str, FeatureFrame], detectors: dict[str, Detector]
) -> None:
    """Every dossier is flagged, so desk filings get the model's reasons too.

    score_frame then encodes the flagged rows again (it encodes only the
    online ones for the risk): the online rows' reasons must be those of the
    online rows scored alone, and the one-dossier path must agree.
    """
    det = copy.deepcopy(detectors["review"])
    det.threshold_ = 0.0
    det.lookalike_ = {}  # the look-alike groups at that threshold too (detector._lookalike)
    X = features["review"].frame.iloc[:300]
    online = (X["channel"] == "online").to_numpy()
    assert 0 < online.sum() < len(X)
    scored = det.score_frame(X)
    assert scored["flagged"].all()
    alone = det.score_frame(X[online])
    assert scored.loc[online, "reasons"].tolist() == alone["reasons"].tolist()
    fs = FastScorer(det)
    for m, row in list(zip(as_mappings(X), scored.to_dict("records"), strict=True))[:40]:
        assert differences(fs.score(m), row) == []


def test_a_missing_feature_is_refused(scorers: dict[str, FastScorer]) -> None:
    fs = scorers["submission"]
    features = dict.fromkeys(fs.columns, math.nan)
    del features["holder_relation"]
    with pytest.raises(
        ValueError, match=r"features missing for this detector \(submission\).*holder_relation"
    ):
        fs.score(features)


# ------------------------------------------------------------------ compiled trees
def test_compiled_trees_match_sklearn_on_missing_infinite_and_unknown_values() -> None:
    """A small model on hand-made data where NaN, +-inf and rare categories are common.

    Missing values in training give splits that send NaN either way, and a
    column that is NaN exactly when the label is set gives scikit-learn's
    "split on NaN" (threshold +inf); the rows scored then add infinities and
    categories the model never saw. The raw predictions must agree bit for bit.
    """
    rng = np.random.default_rng(7)
    n = 3000
    colour = rng.choice(["red", "green", "blue", "grey"], n, p=[0.4, 0.3, 0.25, 0.05])
    x = rng.normal(size=n)
    x[rng.random(n) < 0.2] = np.nan
    y = (np.nan_to_num(x, nan=1.0) + (colour == "red") + rng.normal(0, 0.5, n) > 0.8).astype(int)
    flag = np.where(y == 1, np.nan, rng.random(n))  # missing exactly when positive
    cats = ["red", "green", "blue", "grey", "purple"]  # purple is declared, never seen
    X = pd.DataFrame({"colour": pd.Categorical(colour, categories=cats), "x": x, "flag": flag})
    labels = np.array(["no", "yes", "maybe"])[y + (rng.random(n) < 0.2)]
    models = [
        HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=15, random_state=0).fit(X, y),
        HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=40, random_state=0).fit(
            X, labels
        ),
    ]
    layout = RowLayout.of(models, {"colour": cats})
    forest = Forest(models, layout)

    test = pd.DataFrame(
        {
            "colour": pd.Categorical(rng.choice([*cats, None], 400), categories=cats),
            "x": rng.choice([np.nan, np.inf, -np.inf, 0.0, *rng.normal(size=5)], 400),
            "flag": rng.choice([np.nan, np.inf, 0.5, 0.01], 400),
        }
    )
    expected = np.column_stack([m._raw_predict(test) for m in models])
    got = np.array(
        [
            forest.raw(
                forest.cleared(
                    np.array([r.x, r.flag]), np.array([layout.codes[0].get(r.colour, 5)])
                )
            )
            for r in test.itertuples()
        ]
    )
    assert np.array_equal(got, expected)
    split_on_nan = [
        n
        for p in models[0]._predictors
        for n in p[0].nodes
        if not n["is_leaf"] and np.isinf(n["num_threshold"])
    ]
    assert split_on_nan, "the hand-made data should produce a split on NaN"


# ------------------------------------------------------------------ speed
def test_time_per_dossier(
    features: dict[str, FeatureFrame],
    detectors: dict[str, Detector],
    scorers: dict[str, FastScorer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Not a check: prints the time per dossier, the figure the API's budget is about.

    Wall-clock time as a request sees it, and the thread's CPU time, which a
    busy machine (another process taking the core) does not inflate.
    """
    lines = []
    for at in MOMENTS:
        X = features[at].frame
        online = X[(X["channel"] == "online").to_numpy()].iloc[:4000]
        flagged = detectors[at].score_frame(online)["flagged"].to_numpy()
        wall: dict[bool, list[int]] = {False: [], True: []}
        cpu: dict[bool, list[int]] = {False: [], True: []}
        for m, f in zip(as_mappings(online), flagged, strict=True):
            w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            scorers[at].score(m)
            cpu[bool(f)].append(time.thread_time_ns() - c0)
            wall[bool(f)].append(time.perf_counter_ns() - w0)
        for f, name in ((False, "not flagged"), (True, "flagged")):
            w, c = np.array(wall[f]) / 1e3, np.array(cpu[f]) / 1e3
            lines.append(
                f"{at:10s} {name:11s} n={len(w):4d}  wall median {np.median(w):4.0f} µs"
                f" p99 {np.percentile(w, 99):5.0f} µs | cpu median {np.median(c):4.0f} µs"
                f" p99 {np.percentile(c, 99):5.0f} µs"
            )
    with capsys.disabled():
        print("\nFastScorer.score, online dossiers:\n  " + "\n  ".join(lines))
    assert all(wall.values())
