"""Experiment: verdicts teach the model (issue #5, point 5).

A province is simulated for a year. The detector starts from a label file
covering only the first ``--label-months`` months (model **A**). Its flags of
the next ``--review-months`` months go into a fresh case store with
``detector score --to-db``; a simulated team of ``--reviewers`` reviewers,
each reviewing ``--per-reviewer`` cases a month, works through each month's
queue top-down (highest risk first) and records a verdict per case from the
simulator's truth (a misuse type gives ``misuse`` with that type, a
legitimate type ``legitimate`` with it), through the real review API over
HTTP (``POST /v1/session``, ``GET /v1/cases``, ``POST /v1/cases/{id}/verdicts``).
Then ``detector train --labels <the same file> --labels-from-db`` retrains
(model **B**), and both are judged on the months after the review months,
which neither has seen, with the project's own metrics
(:func:`detector._baselines.method_metrics`: average precision, precision at
the team's capacity, recall per misuse type, flag rate per legitimate type)
beside the baselines :mod:`detector.evaluate` uses (rules only,
IsolationForest, single-dossier model; trained on A's labels).

Controls, each trained the same way from the same label file:

- **A+random verdicts**: the same team, the same number of verdicts, but on
  cases drawn at random from each month's queue instead of its top;
- **A+random dossiers**: the same number of labels, on dossiers drawn at
  random from the review months (what an audit sample would give), added to
  the label file;
- **all labels**: the truth of every dossier up to the end of the review
  months (the most the labels could give; an upper bound).

and, computed in process, **Bf**: B's labels with ``MisuseModel(refit=True)``.
``detector train`` calibrates on the latest 20 % of the label file's rows (by
time) and keeps them out of the trees; verdicts (and the random-verdict
control) are labels the queue chose, so they train the trees but never
calibrate (``--labels-from-db`` passes them as review labels).

A *scenario* is the label file's shape and the team (``--label-months``,
``--label-share``: a random sample of those months, as a past audit would
give; ``--reviewers``, ``--per-reviewer``, ``--review-months``). A model
that cannot be trained is a result too: its error is recorded and the others
are still judged. When the queue's top is all misuse (a good model A), the
verdicts are all positives and, being the newest labels, fill the calibration
months; with a small label file those months then hold one class and
training fails (recorded under ``failed``).

Outputs ``bench/results/feedback.json`` (one entry per scenario under
``scenarios``, the latest run of each, and a ``headline`` table) and
``bench/results/feedback.png``
(average precision and precision at capacity per held-out month). Everything
generated is cached under ``--cache`` (default
``$TMPDIR/detector-bench-feedback``), keyed by the options, so a rerun
skips the steps already done; ``--fresh`` redoes them.

    .venv/bin/python bench/feedback.py                     # 100k dossiers, 12 months (~15 min)
    .venv/bin/python bench/feedback.py --quick             # 20k dossiers, smoke run, not written
    .venv/bin/python bench/feedback.py --label-share 0.05  # a 5 % audit sample as labels
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from _results import write_results

BIN = Path(sys.executable).parent
MISUSE = ("identity_misuse", "officer_proxy")
PASSWORD = "bench-feedback-password"
#: the team's accounts (``--reviewers`` of them review)
REVIEWERS = [f"reviewer{i}" for i in range(1, 11)]
#: the models compared, in display order: key -> (name, how its labels were made)
MODELS = {
    "A": ("A: label file only", "the label file (first months) alone"),
    "B": ("B: + queue-top verdicts", "label file + the team's verdicts on the top of each queue"),
    "R": ("A + random verdicts", "label file + as many verdicts on random cases of the queue"),
    "D": ("A + random dossiers", "label file + as many labels on random dossiers of those months"),
    "C": ("all labels", "the truth of every dossier up to the end of the review months"),
    "Bf": (
        "B, trees refit on all",
        "B's labels, with MisuseModel(refit=True): the trees also learn the newest labels",
    ),
}


def say(msg: str) -> None:
    """One stage line, flushed at once."""
    print(msg, flush=True)


class CommandFailed(Exception):
    """A ``detector`` command ended with a non-zero exit code (its output is the message)."""


def detector(what: str, *args: object, env: dict[str, str] | None = None) -> str:
    """Run one ``detector`` command; return its stdout.

    Raises
    ------
    CommandFailed
        With the end of its output, when it fails.
    """
    t0 = time.perf_counter()
    say(f"  {what} ...")
    res = subprocess.run(
        [str(BIN / "detector"), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
    )
    if res.returncode:
        raise CommandFailed(
            f"{what} failed ({res.returncode}): {res.stdout[-1500:]}{res.stderr[-1500:]}".strip()
        )
    say(f"  {what}: {time.perf_counter() - t0:.0f} s")
    return res.stdout


# ---------------------------------------------------------------- the province and its split
def province(cache: Path, n: int, seed: int, months: int) -> Path:
    """A simulated province folder (data/, labels.csv, scenarios.csv), made once."""
    root = cache / f"province-{n}-s{seed}-m{months}"
    if not (root / "labels.csv").is_file():
        work = Path(tempfile.mkdtemp(prefix="simulate-", dir=cache)) / "p"
        detector(
            f"simulate {n:,} dossiers over {months} months (seed {seed})",
            "simulate",
            work,
            "--dossiers",
            n,
            "--seed",
            seed,
            "--months",
            months,
        )
        shutil.rmtree(root, ignore_errors=True)
        work.rename(root)
        shutil.rmtree(work.parent)
    return root


def local_months(ds: Any) -> np.ndarray:
    """``YYYY-MM`` of each dossier row's submission, on the contract's local clock."""
    from features.contract import LOCAL_TZ

    t = ds.tables["dossiers"]["submitted_at"]
    return t.dt.tz_convert(LOCAL_TZ).dt.strftime("%Y-%m").fillna("").to_numpy()


def write_labels(path: Path, ids: np.ndarray, types: np.ndarray) -> Path:
    """A label file in the contract's format (``dossier_id``, ``proxy_type``)."""
    pd.DataFrame({"dossier_id": ids, "proxy_type": types}).to_csv(path, index=False)
    return path


def with_cause(message: str) -> str:
    """The message of a failed command, plus the last line of the crash log it points to."""
    import re

    found = re.search(r"details in (\S+\.log)", message)
    if "| cause:" in message or not found or not Path(found.group(1)).is_file():
        return message
    lines = Path(found.group(1)).read_text(errors="replace").strip().splitlines()
    return f"{message} | cause: {lines[-1] if lines else '?'}"


def train(data: Path, out: Path, labels: Path, from_db: str | None = None) -> Path | None:
    """``detector train`` (with ``--labels-from-db`` when a store is given), once per folder.

    Returns the model folder, or None when training failed: the failure is
    itself a result of the experiment (kept beside the folder, so a rerun
    reports it again without retrying).
    """
    failed = out.with_name(out.name + ".failed")
    if (out / "model_card.json").is_file():
        say(f"  model {out.name}: cached")
        return out
    if failed.is_file():
        say(f"  model {out.name}: failed before: {failed.read_text()[-300:]}")
        return None
    shutil.rmtree(out, ignore_errors=True)
    args: list[object] = ["train", data, "--labels", labels, "--out", out]
    if from_db:
        args += ["--labels-from-db", from_db]
    try:
        stdout = detector(f"train model {out.name}", *args)
    except CommandFailed as exc:
        failed.write_text(with_cause(str(exc)))
        say(f"  FAILED: {str(exc)[-400:]}")
        return None
    for line in stdout.splitlines():
        if line.startswith("labels:"):
            say(f"    {line.strip()}")
    return out


# ---------------------------------------------------------------- the team's months of review
def user_add(url: str, name: str, role: str) -> None:
    """``detector user add`` into the store at ``url`` (the password from the environment)."""
    detector(
        f"user add {name}",
        "user",
        "add",
        name,
        "--role",
        role,
        "--db",
        url,
        env={"DETECTOR_NEW_PASSWORD": PASSWORD},
    )


def queue_store(
    work: Path, data: Path, model: Path, since: str, until: str, reviewers: int
) -> Path:
    """A fresh SQLite store with model A's flags of the review months, and the team's users."""
    path = work / "queue.db"
    if path.is_file():
        return path
    tmp = work / "queue-building.db"
    for p in work.glob("queue-building.db*"):
        p.unlink()
    url = f"sqlite:///{tmp}"
    out = detector(
        f"score {since}..{until} with model A --to-db",
        "score",
        data,
        "--model",
        model,
        "--out",
        work / "scores-review-months.csv",
        "--since",
        since,
        "--until",
        until,
        "--to-db",
        url,
    )
    for line in out.splitlines():
        if "case store" in line or "flagged" in line:
            say(f"    {line.strip()}")
    for name in REVIEWERS[:reviewers]:  # the team's accounts, once: each team's store is a copy
        user_add(url, name, "reviewer")
    import sqlite3

    with sqlite3.connect(tmp) as conn:  # one self-contained file to copy per team
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tmp.rename(path)
    return path


def review(
    store: Path,
    truth: dict[str, str],
    months: list[str],
    selection: str,
    reviewers: int,
    per_reviewer: int,
    seed: int,
) -> dict[str, Any]:
    """A team reviews each month's queue through the review API; returns what it did.

    Each month every reviewer takes ``per_reviewer`` open cases of that month:
    the top of the queue (``selection="top"``, the default sort: highest risk
    first) or cases drawn at random from it (``"random"``). The verdict is the
    simulator's truth for the dossier.
    """
    from bench_cases import Client, Server

    from features.contract import MISUSE_TYPES

    names = REVIEWERS[:reviewers]
    url = f"sqlite:///{store}"
    rng = random.Random(seed)
    server = Server(url)
    say(f"  the app on port {server.port}, {reviewers} reviewers, {selection} of each queue")
    server.start()
    done: list[dict[str, Any]] = []
    try:
        team = []
        for name in names:
            c = Client(server.port)
            csrf = c.login(name, PASSWORD)["csrf_token"]
            team.append((c, csrf))
        for month in months:
            want = reviewers * per_reviewer
            ids: list[tuple[int, str, float]] = []
            page = 1
            while True:  # the month's open cases, highest risk first
                params = {"month": month, "status": "open", "per_page": 200, "page": page}
                status, body, _ = team[0][0].request("GET", "/v1/cases?" + urlencode(params))
                if status != 200:
                    sys.exit(f"GET /v1/cases answered {status}: {body[:300]!r}")
                got = json.loads(body)
                ids += [(i["id"], i["dossier_id"], i["risk_score"]) for i in got["items"]]
                if (selection == "top" and len(ids) >= want) or page * 200 >= got["total"]:
                    break
                page += 1
            picked = ids[:want] if selection == "top" else rng.sample(ids, min(want, len(ids)))
            for k, (case_id, dossier_id, score) in enumerate(picked):
                client, csrf = team[k % reviewers]
                ptype = truth[dossier_id]
                decision = "misuse" if ptype in MISUSE_TYPES else "legitimate"
                client.conn.request(
                    "POST",
                    f"/v1/cases/{case_id}/verdicts",
                    body=json.dumps({"decision": decision, "proxy_type": ptype, "note": ""}),
                    headers={
                        "Cookie": client.cookie,
                        "X-CSRF-Token": csrf,
                        "Content-Type": "application/json",
                    },
                )
                res = client.conn.getresponse()
                answer = res.read()
                if res.status != 201:
                    sys.exit(f"POST verdict answered {res.status}: {answer[:300]!r}")
                done.append(
                    {"month": month, "decision": decision, "proxy_type": ptype, "score": score}
                )
            n_mis = sum(d["decision"] == "misuse" for d in done if d["month"] == month)
            say(
                f"    {month}: {len(ids):,} open cases seen, {len(picked)} reviewed, {n_mis} misuse"
            )
    finally:
        server.stop()
    frame = pd.DataFrame(done)
    return {
        "selection": selection,
        "verdicts": len(frame),
        "by_decision": frame["decision"].value_counts().to_dict() if len(frame) else {},
        "by_type": frame["proxy_type"].value_counts().to_dict() if len(frame) else {},
        "by_month": frame["month"].value_counts().sort_index().to_dict() if len(frame) else {},
        "score_reviewed": {
            "min": round(float(frame["score"].min()), 4),
            "median": round(float(frame["score"].median()), 4),
        }
        if len(frame)
        else {},
    }


def queue_counts(store: Path) -> dict[str, Any]:
    """Cases per month and the truth-free queue figures of a store."""
    import sqlite3

    with sqlite3.connect(store) as conn:
        per_month = dict(conn.execute("SELECT month, count(*) FROM cases GROUP BY month"))
        total = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    return {"cases": total, "cases_by_month": per_month}


# ---------------------------------------------------------------- judging
def evaluate_models(
    data: Path,
    truth_path: Path,
    models: dict[str, Path],
    labels_a: Path,
    held: list[str],
    capacity: float,
    seed: int,
    refit_labels: Path | None = None,
) -> dict[str, Any]:
    """Each model's detector at review and the baselines on the held-out months.

    The baselines are fitted on model A's label file (``labels_a``: its
    months), as :func:`detector.evaluate.evaluate` fits them on its training
    months. With ``refit_labels``, a detector is also fitted here on those
    labels with ``MisuseModel(refit=True)`` (model ``Bf``): ``detector train``
    holds the latest 20 % of the labelled rows (by time) out of the trees to
    calibrate on, so the newest labels (the verdicts) otherwise reach only
    the calibrator and the threshold.
    """
    from threadpoolctl import threadpool_limits

    from detector import _baselines as bl
    from detector.artifacts import load
    from detector.batch import labels_for
    from detector.evaluate import KIOSK_SCENARIO, read_scenarios
    from features import read_dataset
    from features.compute import compute_features

    say("  read the data folder, features at review ...")
    ds = read_dataset(data)
    y = labels_for(ds, truth_path)
    ya = labels_for(ds, labels_a)
    train_a = ya.notna().to_numpy()
    month = local_months(ds)
    hold = np.isin(month, held) & y.notna().to_numpy()
    truth = y[hold].to_numpy(dtype=object)
    feats = compute_features(ds.tables, ds.present, "review")
    X, gaps = feats.frame, feats.data_gaps
    d = ds.tables["dossiers"]
    t = pd.Series(d["submitted_at"].to_numpy(), index=y.index)
    scenarios = read_scenarios(truth_path)
    kiosk = None
    if scenarios is not None:
        kiosk = (scenarios.reindex(y.index[hold]) == KIOSK_SCENARIO).fillna(False).to_numpy(bool)
    m_hold = month[hold]
    methods: dict[str, Any] = {}
    failures: dict[str, str] = {}
    with threadpool_limits(limits=1, user_api="openmp"):
        for key, model_dir in models.items():
            say(f"  score the held-out months with model {key}")
            det, card = load(model_dir, "review")
            scored = det.score_frame(X[hold], gaps[hold])
            methods[key] = (
                bl.MethodScores(
                    score=scored["risk_score"].to_numpy(float),
                    flagged=scored["flagged"].to_numpy(bool),
                    proxy_type=scored["proxy_type"].to_numpy(object),
                    threshold=float(det.threshold_),
                    threshold_policy=det.threshold_policy_,
                ),
                card,
            )
        if refit_labels is not None:
            from detector.model import MisuseModel
            from detector.scorer import Detector

            say("  fit model Bf (B's labels, trees refit on all of them) in process")
            yb = labels_for(ds, refit_labels)
            det = Detector(at="review", model=MisuseModel(random_state=seed, refit=True))
            try:
                det.fit(X, yb, t)
            except ValueError as exc:  # the same failure as B's `detector train`, in process
                failures["Bf"] = f"{type(exc).__name__}: {exc}"
                say(f"  FAILED: {failures['Bf']}")
                refit_labels = None
        if refit_labels is not None:
            scored = det.score_frame(X[hold], gaps[hold])
            card = {
                "training": {
                    "labelled": int(yb.notna().sum()),
                    "label_counts": {k: int(v) for k, v in yb.value_counts().items()},
                    "labelled_period": [str(t[yb.notna()].min()), str(t[yb.notna()].max())],
                },
                "moments": {"review": {"calibration_months": None}},
            }
            methods["Bf"] = (
                bl.MethodScores(
                    score=scored["risk_score"].to_numpy(float),
                    flagged=scored["flagged"].to_numpy(bool),
                    proxy_type=scored["proxy_type"].to_numpy(object),
                    threshold=float(det.threshold_),
                    threshold_policy=det.threshold_policy_,
                ),
                card,
            )
        det_a = load(models["A"], "review")[0]
        k = int(methods["A"][0].flagged.sum())
        say("  baselines on A's labels: rules only, IsolationForest, single-dossier model")
        base = {
            "rules": bl.rules_only(det_a.ruleset_, X[hold]),
            "isolation_forest": bl.isolation_forest(X[train_a], X[hold], k, random_state=seed),
        }
        F = bl.single_dossier_frame(X, d)
        base["single_dossier"] = bl.single_dossier(
            F[train_a],
            ya[train_a],
            t[train_a],
            F[hold],
            k=k,
            precision_target=0.95,
            random_state=seed,
        )
    out: dict[str, Any] = {"models": {}, "baselines": {}, "failed": failures}

    def judged(ms: Any) -> dict[str, Any]:
        m = bl.method_metrics(ms, truth, capacity, kiosk)
        m.pop("confusion", None)
        m["by_month"] = {}
        for mm in held:
            sub = m_hold == mm
            part = bl.MethodScores(
                score=ms.score[sub],
                flagged=ms.flagged[sub],
                proxy_type=None,
                threshold=ms.threshold,
                threshold_policy=ms.threshold_policy,
            )
            pm = bl.method_metrics(part, truth[sub], capacity, None)
            m["by_month"][mm] = {
                "average_precision": pm["average_precision"],
                "precision_at_capacity": pm["precision_at_capacity"],
                "recall": pm["recall"],
            }
        return m

    for key, (ms, card) in methods.items():
        m = judged(ms)
        m["name"] = MODELS[key][0]
        m["labels"] = MODELS[key][1]
        m["training"] = {
            "labelled": card["training"]["labelled"],
            "label_counts": card["training"]["label_counts"],
            "labelled_period": card["training"]["labelled_period"],
        }
        m["calibration_months"] = card["moments"]["review"]["calibration_months"]
        out["models"][key] = m
    for key, ms in base.items():
        m = judged(ms)
        m["name"] = bl.METHODS[key]
        out["baselines"][key] = m
    out["held_out"] = {
        "months": held,
        "dossiers": int(hold.sum()),
        "misuse": int(np.isin(truth, ["identity_misuse", "officer_proxy"]).sum()),
        "by_type": pd.Series(truth).value_counts().to_dict(),
    }
    return out


def plot(scenarios: dict[str, dict[str, Any]], path: Path) -> Path:
    """Average precision and precision at capacity per held-out month; one row per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(len(scenarios), 3, figsize=(16, 4.3 * len(scenarios)), squeeze=False)
    styles = {"A": "-o", "B": "-s", "R": "--^", "D": "--v", "C": ":x", "Bf": "-.d"}
    colours = dict(zip(styles, ("C0", "C1", "C2", "C3", "C4", "C5"), strict=True))
    for axes, (name, res) in zip(grid, scenarios.items(), strict=True):
        ev = res["evaluation"]
        months = ev["held_out"]["months"]
        panels = (
            (axes[0], "average_precision", "AP, with the baselines", True),
            (axes[1], "average_precision", "AP, the models (zoomed)", False),
            (axes[2], "precision_at_capacity", f"precision at {res['capacity']:.1%}", False),
        )
        for ax, metric, title, baselines in panels:
            for key, m in ev["models"].items():
                ys = [m["by_month"][mm][metric] for mm in months]
                ax.plot(months, ys, styles.get(key, "-"), color=colours.get(key), label=m["name"])
            for _key, m in ev["baselines"].items() if baselines else ():
                ys = [m["by_month"][mm][metric] for mm in months]
                ax.plot(months, ys, ":", color="grey", alpha=0.6, linewidth=1)
                ax.annotate(m["name"], (months[-1], ys[-1]), fontsize=7, color="grey", ha="right")
            ax.set_title(f"{title} per held-out month", fontsize=9)
            ax.tick_params(axis="x", rotation=45, labelsize=8)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(name, fontsize=8)
        failed = ev.get("failed") or {}
        if failed:
            axes[1].text(
                0.02,
                0.97,
                f"not trained: {', '.join(failed)} (the calibration months held only misuse)",
                transform=axes[1].transAxes,
                fontsize=7,
                va="top",
                color="C3",
            )
        axes[1].legend(fontsize=7, loc="lower left")
    fig.suptitle(
        "Verdicts teach the model: label file, then a team reviews model A's queue; "
        "every model judged on the same later months",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"written: {path}")
    return path


def scenario_name(a: argparse.Namespace) -> str:
    """A short name of the label file's shape and the team, the key of a scenario."""
    share = "" if a.label_share >= 1 else f" ({a.label_share:.0%} sample)"
    return (
        f"labels {a.label_months} months{share}, "
        f"{a.reviewers}x{a.per_reviewer}/month for {a.review_months} months"
    )


def summary(res: dict[str, Any]) -> None:
    """The side-by-side table on the terminal."""
    ev = res["evaluation"]
    rows = [(k, m) for k, m in ev["models"].items()] + list(ev["baselines"].items())
    print()
    h = ev["held_out"]
    print(
        f"held-out months {h['months'][0]}..{h['months'][-1]}: {h['dossiers']:,} dossiers, "
        f"{h['misuse']:,} misuse; capacity {res['capacity']:.2%} of dossiers"
    )
    head = f"{'':<26}{'labelled':>9}{'AP':>8}{'P@cap':>8}{'recall':>8}{'rec.IM':>8}{'rec.OP':>8}"
    print(head + f"{'flags':>7}{'thr':>7}")
    for _key, m in rows:
        r = m["recall_by_type"]
        n = m.get("training", {}).get("labelled", "")
        thr = m["threshold"]
        print(
            f"{m['name']:<26}{n!s:>9}{m['average_precision']:8.4f}"
            f"{m['precision_at_capacity']:8.4f}{m['recall']:8.4f}"
            f"{r['identity_misuse']:8.4f}{r['officer_proxy']:8.4f}{m['flagged']:7d}"
            f"{'' if thr is None else format(thr, '.3f'):>7}"
        )
    d = res["deltas_B_minus_A"]
    if d:
        print(
            f"\nB - A: AP {d['average_precision']:+.4f}, precision at capacity "
            f"{d['precision_at_capacity']:+.4f}, recall {d['recall']:+.4f}"
        )
    for key, why in ev.get("failed", {}).items():
        print(f"model {key} ({MODELS[key][0]}) could not be trained: {why[-300:]}")


# ---------------------------------------------------------------- main
def main() -> int:
    """Run the experiment; write ``bench/results/feedback.json`` and the plot."""
    try:
        return experiment()
    except CommandFailed as exc:
        sys.exit(str(exc))


def experiment() -> int:
    """The stages of the experiment (see the module's docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dossiers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--months", type=int, default=12, help="length of the simulated period")
    ap.add_argument("--label-months", type=int, default=3, help="months the label file covers")
    ap.add_argument(
        "--label-share",
        type=float,
        default=1.0,
        help="share of the first months' dossiers in the label file (a random sample; 1 = all)",
    )
    ap.add_argument("--review-months", type=int, default=3, help="months the team reviews")
    ap.add_argument("--reviewers", type=int, default=3, help=f"at most {len(REVIEWERS)}")
    ap.add_argument("--per-reviewer", type=int, default=60, help="cases per reviewer per month")
    ap.add_argument("--skip-controls", action="store_true", help="only models A and B")
    ap.add_argument("--quick", action="store_true", help="20k dossiers, smoke run, not written")
    ap.add_argument("--fresh", action="store_true", help="redo every step (cache ignored)")
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "detector-bench-feedback"
    )
    a = ap.parse_args()
    if a.quick:
        a.dossiers, a.per_reviewer = 20_000, 15
    if a.label_months + a.review_months >= a.months:
        ap.error("--label-months + --review-months must leave later months to judge on")
    t_start = time.perf_counter()
    a.cache.mkdir(parents=True, exist_ok=True)
    if not 0 < a.label_share <= 1:
        ap.error("--label-share must be in (0, 1]")
    shape: tuple[float, ...] = (a.dossiers, a.seed, a.months, a.label_months, a.review_months)
    if a.label_share < 1:
        shape += (a.label_share,)
    key = hashlib.sha256(json.dumps([*shape, a.reviewers, a.per_reviewer]).encode()).hexdigest()[
        :10
    ]
    work = a.cache / f"run-{key}"
    if a.fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)

    say(f"1. the province (cached in {a.cache})")
    root = province(a.cache, a.dossiers, a.seed, a.months)
    data, truth_path = root / "data", root / "labels.csv"
    from features import read_dataset

    ds = read_dataset(data, tables=["dossiers"])
    month = local_months(ds)
    months = sorted(m for m in set(month) if m)
    labelled_m = months[: a.label_months]
    review_m = months[a.label_months : a.label_months + a.review_months]
    held = months[a.label_months + a.review_months :]
    ids = ds.tables["dossiers"]["dossier_id"].astype(str).to_numpy()
    truth_frame = pd.read_csv(truth_path, dtype=str).drop_duplicates("dossier_id")
    truth = dict(zip(truth_frame["dossier_id"], truth_frame["proxy_type"], strict=True))
    y_all = np.array([truth.get(i) for i in ids], dtype=object)
    say(
        f"  months: labels {labelled_m[0]}..{labelled_m[-1]}, review {review_m[0]}..{review_m[-1]}"
        f", judged {held[0]}..{held[-1]}"
    )

    say("2. model A from the label file of the first months")
    in_a = np.isin(month, labelled_m) & (y_all != None)  # noqa: E711 (object array)
    if a.label_share < 1:  # a past audit's sample of those months, not all of them
        keep = np.random.default_rng(a.seed + 1).random(len(in_a)) < a.label_share
        in_a &= keep
    say(
        f"  label file: {int(in_a.sum()):,} dossiers, {int(np.isin(y_all[in_a], MISUSE).sum()):,} misuse"
    )
    labels_a = write_labels(work / "labels-A.csv", ids[in_a], y_all[in_a])
    model_a = train(data, work / "model-A", labels_a)
    if model_a is None:
        sys.exit("model A could not be trained from the label file; see the message above")

    say("3. model A's flags of the review months into a fresh case store")
    since = f"{review_m[0]}-01"
    last = pd.Period(review_m[-1], "M")
    until = str(last.end_time.date())
    queue = queue_store(work, data, model_a, since, until, a.reviewers)
    counts = queue_counts(queue)
    per_month_dossiers = float(np.mean([np.sum(month == m) for m in review_m]))
    capacity = a.reviewers * a.per_reviewer / per_month_dossiers
    say(
        f"  {counts['cases']:,} cases; team capacity {a.reviewers * a.per_reviewer}/month = "
        f"{capacity:.2%} of a month's {per_month_dossiers:,.0f} dossiers"
    )

    reviews: dict[str, Any] = {}
    stores: dict[str, Path] = {}
    for selection, name in (("top", "B"), ("random", "R")):
        if selection == "random" and a.skip_controls:
            continue
        say(f"4{name}. the team reviews the {selection} of each month's queue (review API)")
        store = work / f"store-{selection}.db"
        done_file = work / f"review-{selection}.json"
        if not done_file.is_file() or not store.is_file():
            for p in work.glob(f"store-{selection}.db*"):
                p.unlink()
            shutil.copyfile(queue, store)
            rv = review(store, truth, review_m, selection, a.reviewers, a.per_reviewer, a.seed)
            done_file.write_text(json.dumps(rv))
        reviews[selection] = json.loads(done_file.read_text())
        stores[name] = store
        say(f"  {reviews[selection]['verdicts']} verdicts: {reviews[selection]['by_type']}")

    say("5. retrain from the same label file and the verdicts (detector train --labels-from-db)")
    trained: dict[str, Path | None] = {"A": model_a}
    for name, store in stores.items():
        trained[name] = train(data, work / f"model-{name}", labels_a, f"sqlite:///{store}")
    n_verdicts = reviews["top"]["verdicts"]
    if not a.skip_controls:
        rng = np.random.default_rng(a.seed)
        pool = np.flatnonzero(np.isin(month, review_m) & (y_all != None))  # noqa: E711
        pick = rng.choice(pool, size=n_verdicts, replace=False)
        keep = np.r_[np.flatnonzero(in_a), pick]
        labels_d = write_labels(work / "labels-D.csv", ids[keep], y_all[keep])
        trained["D"] = train(data, work / "model-D", labels_d)
        in_c = np.isin(month, labelled_m + review_m) & (y_all != None)  # noqa: E711
        labels_c = write_labels(work / "labels-C.csv", ids[in_c], y_all[in_c])
        trained["C"] = train(data, work / "model-C", labels_c)
    models = {k: v for k, v in trained.items() if v is not None}
    failed = {
        k: (work / f"model-{k}.failed").read_text()[-600:] for k, v in trained.items() if v is None
    }

    say(f"6. judge every model on the held-out months {held[0]}..{held[-1]}")
    labels_b = None
    if not a.skip_controls:  # B's merged labels, for the in-process refit variant
        from service.cases.db import CaseStore
        from service.cases.labels import merge_labels, verdict_labels

        store = CaseStore(f"sqlite:///{stores['B']}")
        with store.session() as s:
            merged = merge_labels(pd.read_csv(labels_a, dtype=str), verdict_labels(s))
        store.dispose()
        labels_b = work / "labels-B.csv"
        merged.to_csv(labels_b, index=False)
    ev = evaluate_models(data, truth_path, models, labels_a, held, capacity, a.seed, labels_b)
    ev["failed"] = {**failed, **ev["failed"]}
    A, B = ev["models"]["A"], ev["models"].get("B")
    res: dict[str, Any] = {
        "config": {
            "dossiers": a.dossiers,
            "seed": a.seed,
            "months": a.months,
            "label_months": a.label_months,
            "label_share": a.label_share,
            "label_file": {
                "dossiers": int(in_a.sum()),
                "misuse": int(np.isin(y_all[in_a], MISUSE).sum()),
            },
            "review_months": a.review_months,
            "reviewers": a.reviewers,
            "per_reviewer": a.per_reviewer,
            "months_labelled": labelled_m,
            "months_reviewed": review_m,
            "months_judged": held,
            "verdicts_via": "review API over HTTP (uvicorn, POST /v1/cases/{id}/verdicts)",
            "retrain_via": "detector train --labels labels-A.csv --labels-from-db sqlite:///...",
        },
        "capacity": capacity,
        "queue": counts,
        "review": reviews,
        "evaluation": ev,
        "deltas_B_minus_A": {
            k: B[k] - A[k] for k in ("average_precision", "precision_at_capacity", "recall")
        }
        if B
        else None,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    summary(res)
    name = scenario_name(a)
    if a.quick:
        plot({name: res}, work / "feedback.png")
        (work / "feedback.json").write_text(json.dumps(res, indent=2, default=str))
        print(f"a smoke run (--quick): results in {work}, bench/results/ left as it was")
        return 0
    path = Path(__file__).parent / "results" / "feedback.json"
    scenarios: dict[str, Any] = {}
    if path.is_file():  # keep the other scenarios' latest results
        scenarios = json.loads(path.read_text()).get("scenarios", {})
    res["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    scenarios[name] = json.loads(json.dumps(res, default=str))
    headline = {
        k: {
            "label_file": v["config"]["label_file"],
            "verdicts": v["review"]["top"]["verdicts"],
            "average_precision": {
                m: round(x["average_precision"], 4) for m, x in v["evaluation"]["models"].items()
            },
            "precision_at_capacity": {
                m: round(x["precision_at_capacity"], 4)
                for m, x in v["evaluation"]["models"].items()
            },
            "deltas_B_minus_A": v["deltas_B_minus_A"],
            "failed": {m: why[-200:] for m, why in v["evaluation"].get("failed", {}).items()},
        }
        for k, v in scenarios.items()
    }
    write_results("feedback", models=MODELS, headline=headline, scenarios=scenarios)
    plot(scenarios, path.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
