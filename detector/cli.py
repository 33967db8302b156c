"""The ``detector`` command line.

Exit codes: 0 ok, 2 unusable input (missing table or column, bad option), 1
internal error. Expected failures print one line on stderr and never a
traceback; an unexpected one prints one line and writes the traceback to a log
file whose path the line gives.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Protocol

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.errors import DetectorError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from features import Dataset

app = typer.Typer(
    name="detector",
    help="Find dossiers filed under someone else's account and officers' 'online' proxies.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
#: wide tables stay readable when the output goes to a file or a pipe
console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)
log = logging.getLogger(__name__)

Lang = Annotated[str, typer.Option("--lang", help="Language of the report: vi (Tiếng Việt) or en.")]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


def _lang(value: str) -> str:
    if value not in ("vi", "en"):
        raise UsageError(f"--lang must be vi or en (got {value!r})")
    return value


@app.command()
def simulate(
    out_dir: Annotated[
        Path, typer.Argument(help="Folder to create: data/ inside it, labels.csv beside it.")
    ],
    dossiers: Annotated[
        int, typer.Option(help="Number of distinct dossiers (with --provinces, in all).")
    ] = 100_000,
    months: Annotated[int, typer.Option(help="Length of the period in months.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 0,
    start: Annotated[
        str, typer.Option(help="First day of the period (YYYY-MM-DD).")
    ] = "2025-07-01",
    file_format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    dirt: Annotated[
        float, typer.Option(help="Multiplier of the dirty-data rates (0 = clean export).")
    ] = 1.0,
    parts: Annotated[
        bool,
        typer.Option("--parts", help="Write the dossiers as one file per month in data/dossiers/."),
    ] = False,
    provinces: Annotated[
        int,
        typer.Option(
            help="Provinces of a nation (1-34), simulated one at a time; --dossiers is the "
            "total. Above 1 every table is a folder of parts (one per province, the dossiers "
            "one per province and month) and brokers work across provinces."
        ),
    ] = 1,
) -> None:
    """Simulate a province in the data contract's format (labels kept outside the data folder)."""
    from detector.simulate import SimConfig, write_province
    from detector.simulate import simulate as run

    try:
        import numpy as np

        np.datetime64(start, "D")
    except ValueError as exc:
        raise UsageError(f"--start must be a date YYYY-MM-DD (got {start!r})") from exc
    if file_format not in ("csv", "parquet"):
        raise UsageError(f"--format must be csv or parquet (got {file_format!r})")
    cfg = SimConfig(dossiers=dossiers, months=months, seed=seed, start=start, dirt=dirt)
    cfg.check()
    t0 = time.perf_counter()
    if provinces != 1:
        _simulate_nation(cfg, provinces, out_dir, file_format)
        return
    stages = ["people, households, units and accounts", "dossiers", "tables", "export dirt"]
    with _progress() as bar:
        task = bar.add_task("simulating", total=len(stages) + 9)

        def step(msg: str) -> None:
            bar.update(task, description=msg, advance=0 if msg == stages[0] else 1)

        province = run(cfg, progress=step)
        data = write_province(province, out_dir, fmt=file_format, progress=step, parts=parts)
        bar.update(task, completed=len(stages) + 9, description="done")
    m = province.manifest
    table = Table(
        title=f"Simulated province: {m['dossiers']:,} dossiers in {time.perf_counter() - t0:.1f}s"
    )
    table.add_column("proxy_type")
    table.add_column("share", justify="right")
    shares: dict[str, float] = m["proxy_type_share"]  # type: ignore[assignment]
    for k, v in shares.items():
        table.add_row(k, f"{v:.2%}")
    console.print(table)
    console.print(f"claimed online share: {m['claimed_online_share']:.1%}")
    console.print(
        f"data folder: {data}\n"
        f"labels:      {Path(out_dir) / 'labels.csv'}\n"
        f"manifest:    {Path(out_dir) / 'manifest.json'}"
    )


def _simulate_nation(cfg: Any, provinces: int, out_dir: Path, file_format: str) -> None:
    """``detector simulate --provinces K``: a nation written province by province, as parts."""
    from detector.simulate.nation import plan, simulate_nation

    plan(cfg, provinces)  # refuse bad settings before the progress bar starts
    if file_format != "parquet":
        err.print("note: --format parquet is recommended for a nation (smaller, faster to read)")
    t0 = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("simulating", total=provinces)

        def step(msg: str, done: int) -> None:
            bar.update(task, description=msg, completed=done)

        m = simulate_nation(cfg, provinces, out_dir, fmt=file_format, progress=step)
        bar.update(task, completed=provinces, description="done")
    table = Table(
        title=f"Simulated nation: {m['dossiers']:,} dossiers in {m['provinces']} provinces "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    table.add_column("part")
    table.add_column("province")
    table.add_column("dossiers", justify="right")
    table.add_column("from national brokers", justify="right")
    per: list[dict[str, Any]] = m["per_province"]  # type: ignore[assignment]
    for p in per:
        table.add_row(
            p["part"], p["name"], f"{p['dossiers']:,}", f"{p['national_broker_dossiers']:,}"
        )
    console.print(table)
    shares: dict[str, float] = m["proxy_type_share"]  # type: ignore[assignment]
    console.print(
        "proxy_type: " + ", ".join(f"{k} {v:.2%}" for k, v in shares.items()),
        f"\nclaimed online share: {m['claimed_online_share']:.1%}",
        f"\ncross-province brokers: {len(m['cross_province_brokers'])}",  # type: ignore[arg-type]
    )
    console.print(
        f"data folder: {Path(out_dir) / 'data'} (every table a folder of parts)\n"
        f"labels:      {Path(out_dir) / 'labels.csv'}\n"
        f"manifest:    {Path(out_dir) / 'manifest.json'}"
    )


@app.command()
def validate(
    data_dir: Annotated[Path, typer.Argument(help="A data folder in the contract's format.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON to this file.")
    ] = None,
    lang: Lang = "vi",
) -> None:
    """Read a data folder and report its data quality; good rows are never dropped."""
    from features import read_dataset

    _lang(lang)
    with _progress() as bar:
        task = bar.add_task("reading", total=None)
        dataset = read_dataset(data_dir, progress=lambda msg: bar.update(task, description=msg))
        bar.update(task, description="read", total=1, completed=1)
    report = dataset.report
    _print_report(report, lang)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(
            json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"
        )
        console.print(f"JSON report: {json_out}")


def _print_report(report: object, lang: str) -> None:
    from features.quality import QualityReport

    assert isinstance(report, QualityReport)
    vi = lang == "vi"
    tables = Table(title="Bảng dữ liệu" if vi else "Tables")
    for col in (
        ("bảng", "table"),
        ("nguồn", "source"),
        ("đọc", "read"),
        ("giữ", "kept"),
        ("loại", "rejected"),
        ("lỗi dòng", "skipped"),
        ("trùng", "duplicates"),
    ):
        tables.add_column(
            col[0] if vi else col[1],
            justify="right" if col[1] not in ("table", "source") else "left",
        )
    for t in report.tables.values():
        if not t.requested:
            continue
        if not t.present:
            tables.add_row(t.name, "—" + (" vắng mặt" if vi else " absent"), "", "", "", "", "")
            continue
        tables.add_row(
            t.name,
            Path(t.source or "").name,
            f"{t.rows_read:,}",
            f"{t.rows_kept:,}",
            f"{t.rows_rejected:,}",
            f"{t.rows_skipped:,}",
            f"{t.rows_merged:,}",
        )
    console.print(tables)
    findings = Table(
        title="Phát hiện về chất lượng dữ liệu" if vi else "Data-quality findings", show_lines=False
    )
    for col in (
        ("mức", "severity"),
        ("bảng.cột", "table.column"),
        ("mã", "code"),
        ("số dòng", "count"),
        ("giải thích", "explanation"),
    ):
        findings.add_column(
            col[0] if vi else col[1],
            justify="right" if col[1] == "count" else "left",
            overflow="fold",
        )
    style = {"error": "red", "warning": "yellow", "info": "cyan"}
    for f in report.findings:
        where = f.table + (f".{f.column}" if f.column else "")
        findings.add_row(
            f"[{style.get(f.severity, '')}]{f.severity}[/]",
            where,
            f.code,
            f"{f.count:,}",
            f.message_vi if vi else f.message_en,
        )
    console.print(
        findings if report.findings else ("Không có phát hiện nào." if vi else "No findings.")
    )


def _stage_progress(bar: Progress, total: int | None) -> Callable[[str], None]:
    """A step function for a long command: the progress bar on a terminal, else one line per step.

    Redirected to a file or a pipe (CI, cron, ``make``), a bar draws nothing;
    a long ``train`` would look hung, so each step is written on stderr with the
    time since the command started.
    """
    task = bar.add_task("starting", total=total)
    started = time.perf_counter()

    def step(msg: str) -> None:
        bar.update(task, description=msg, advance=1)
        if bar.disable:
            err.print(f"[{time.perf_counter() - started:6.1f} s] {msg}", highlight=False)

    return step


# ------------------------------------------------------------------ the case store
#: the value a bare ``--to-db`` / ``--labels-from-db`` gets: DATABASE_URL, else var/detector.db
DEFAULT_DB = "default"
_OPTIONAL_VALUE = ("--to-db", "--labels-from-db")


def optional_values(argv: list[str]) -> list[str]:
    """Give ``--to-db`` / ``--labels-from-db`` their default value when they come bare.

    Typer has no option with an optional value, so a bare option gets
    :data:`DEFAULT_DB` unless the next word is a database URL (has ``://``);
    ``--to-db=URL`` passes through as it is.
    """
    out: list[str] = []
    for i, word in enumerate(argv):
        out.append(word)
        if word in _OPTIONAL_VALUE:
            following = argv[i + 1] if i + 1 < len(argv) else ""
            if "://" not in following and following != DEFAULT_DB:
                out.append(DEFAULT_DB)
    return out


class CaseStoreLink(Protocol):
    """What ``score --to-db`` and ``train --labels-from-db`` need from the case store.

    The service provides it (:mod:`service.cli` sets :data:`case_store`), so
    the options are declared once, here, and this layer never imports the
    service: the layers stay one-way (service -> detector -> features).
    """

    def load(
        self,
        url: str,
        ds: Dataset,
        scored: pd.DataFrame,
        model: Path,
        *,
        at: str,
        explore_share: float,
        progress: Callable[[str], None],
    ) -> str:
        """Load a batch run's flagged (and exploration) cases; one line saying what was done."""
        ...

    def labels(
        self, url: str, labels: pd.DataFrame | None, review_labels: pd.DataFrame | None
    ) -> tuple[pd.DataFrame | None, pd.DataFrame | None, str]:
        """The store's verdicts joined to the label files: (sample, queue-chosen, one line).

        ``sample`` calibrates and may carry weights (label file and exploration
        verdicts); ``queue-chosen`` trains the trees only (verdicts on flagged cases).
        """
        ...


#: the case store behind --to-db and --labels-from-db (set by service.cli; None without it)
case_store: CaseStoreLink | None = None


def _case_store() -> CaseStoreLink:
    if case_store is None:
        raise UsageError(
            "--to-db and --labels-from-db need the case store, which comes with the service: "
            "run the detector command (service.cli), not python -m detector.cli"
        )
    return case_store


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--to-db",
        metavar="[URL]",
        help="Also load the flagged dossiers into the case store (the workbench's queue) and "
        "the unit dashboard; bare: DATABASE_URL, else var/detector.db.",
    ),
]
LabelsFromDb = Annotated[
    str | None,
    typer.Option(
        "--labels-from-db",
        metavar="[URL]",
        help="Also learn from the case store's verdicts (misuse or legitimate, with their type), "
        "which win over --labels on the same dossier; bare: DATABASE_URL, else var/detector.db.",
    ),
]
ExploreShare = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=0.9,
        help="With --to-db: share of the queue drawn at random below the threshold to teach the "
        "model (marked as such; a verdict on it is weighted by its chance of being drawn).",
    ),
]


#: the options of ``train``, named once
DataDir = Annotated[Path, typer.Argument(help="A data folder in the contract's format.")]
ModelOut = Annotated[Path, typer.Option("--out", help="Model folder to write.")]
Labels = Annotated[
    Path | None,
    typer.Option(
        "--labels",
        help="labels.csv (dossier_id, proxy_type); may cover part of the dossiers. Without "
        "labels (or with fewer than 50) a starter model is trained on provinces simulated "
        "like this one.",
    ),
]
Rules = Annotated[Path | None, typer.Option(help="Rule file (default: the packaged rules.yaml).")]
PrecisionTarget = Annotated[
    float, typer.Option(help="Flag threshold: precision to reach on the calibration months.")
]
Capacity = Annotated[
    float | None,
    typer.Option(help="Flag threshold instead from a review capacity (share of dossiers)."),
]
ReviewLabels = Annotated[
    Path | None,
    typer.Option(
        "--review-labels",
        help="Labels the review queue chose (verdicts on its top): they win over --labels "
        "and train the trees, but only --labels' dossiers calibrate the risk and threshold.",
    ),
]
SimulatedProvinces = Annotated[
    int,
    typer.Option(
        min=2, max=40, help="Provinces simulated like this one, for the starter (no or few labels)."
    ),
]


#: the engine options of train, score, report and evaluate, named once
Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="pandas (one process: a province) or dask (partitioned over a Dask cluster: "
        "a nation; see --scheduler).",
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="With --engine dask: a running Dask scheduler (tcp://host:8786); without it a "
        "local cluster starts on this machine.",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        min=1, help="With --engine dask and no --scheduler: local workers (one per core)."
    ),
]
MemoryLimit = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        help="With --engine dask and no --scheduler: memory of each local worker (e.g. 3GB); "
        "past it the worker spills to disk.",
    ),
]
SampleRows = Annotated[
    int,
    typer.Option(
        min=1000, help="With --engine dask: fit on at most this many dossiers (a uniform sample)."
    ),
]


def _engine(
    engine: str, scheduler: str | None, workers: int | None, memory_limit: str | None
) -> AbstractContextManager[object]:
    """The engine's context: nothing for pandas, a Dask client for dask."""
    if engine not in ("pandas", "dask"):
        raise UsageError(f"--engine must be pandas or dask (got {engine!r})")
    if engine == "pandas":
        if scheduler or workers or memory_limit:
            raise UsageError("--scheduler, --workers and --memory-limit go with --engine dask")
        return nullcontext()
    from dask.utils import parse_bytes

    from detector.dask_engine import cluster

    if memory_limit is not None:
        try:
            parse_bytes(memory_limit)
        except (ValueError, TypeError) as exc:
            raise UsageError(
                f"--memory-limit must be a size such as 3GB or 500MB (got {memory_limit!r})"
            ) from exc
    return cluster(scheduler, workers, memory_limit)


@app.command()
def train(
    data_dir: DataDir,
    out: ModelOut,
    labels: Labels = None,
    rules: Rules = None,
    precision_target: PrecisionTarget = 0.95,
    capacity: Capacity = None,
    review_labels: ReviewLabels = None,
    simulated_provinces: SimulatedProvinces = 6,
    labels_from_db: LabelsFromDb = None,
    engine: Engine = "pandas",
    scheduler: Scheduler = None,
    workers: Workers = None,
    memory_limit: MemoryLimit = None,
    sample_rows: SampleRows = 1_000_000,
) -> None:
    """Train the detectors (at submission and at review) and write them with their model card.

    With no labels, or few, the detectors start from provinces simulated like
    this one (measured on its own data); the card says which policy was used.
    Verdicts (--labels-from-db) on cases the queue flagged are not a sample of
    the dossiers: they train the trees only. Verdicts on cases drawn for
    exploration are a sample with known chances: each counts 1/propensity and,
    with the label file, calibrates the risk and sets the threshold.
    """
    from detector.batch import train as run
    from features import read_labels

    if not 0 < precision_target < 1 or (capacity is not None and not 0 < capacity < 1):
        raise UsageError("--precision-target and --capacity must be between 0 and 1")
    sample = chosen = None
    if labels_from_db is not None:
        file_labels = read_labels(labels)[0] if labels is not None else None
        file_chosen = read_labels(review_labels)[0] if review_labels is not None else None
        sample, chosen, said = _case_store().labels(labels_from_db, file_labels, file_chosen)
        console.print(said)
        labels = review_labels = None
    with _engine(engine, scheduler, workers, memory_limit), _progress() as bar:
        card = run(
            data_dir,
            labels,
            out,
            rules_path=str(rules) if rules else None,
            precision_target=precision_target,
            capacity=capacity,
            progress=_stage_progress(bar, 7),
            review_labels_path=review_labels,
            labels=sample,
            review_labels=chosen,
            provinces=simulated_provinces,
            engine=engine,
            sample_rows=sample_rows,
        )
    _print_card(card, out)


def _print_card(card: dict[str, Any], out: Path) -> None:
    """The policy, the label noise and the calibration metrics of a model just trained."""
    policy = card["training"]["policy"]
    console.print(f"[bold]{policy['kind']}[/]: {policy['why']}")
    if card["training"].get("labels_not_in_folder"):
        console.print(
            f"[yellow]note:[/] {card['training']['labels_not_in_folder']:,} labelled dossier_id "
            "values are not in the data folder and were left out"
        )
    noise = policy.get("label_noise") or {}
    if noise.get("judged"):
        console.print(
            f"labels set aside as likely wrong: {noise['set_aside']:,} of {noise['labels']:,} "
            f"({noise['share']:.1%})"
        )
    console.print(f"threshold judged on {policy['threshold_judged_on']}")
    table = Table(title=f"Model {card['model_version']} → {out}")
    for col in ("moment", "threshold", "AP", "precision", "recall", "flag rate"):
        table.add_column(col, justify="left" if col == "moment" else "right")
    for at, m in card["moments"].items():
        c = m["calibration_months"]
        table.add_row(
            at,
            f"{m['threshold']:.3f}",
            f"{c['average_precision']:.3f}",
            f"{c['precision_at_threshold']:.3f}",
            f"{c['recall_at_threshold']:.3f}",
            f"{c['flag_rate']:.2%}",
        )
    console.print(table)
    console.print("(metrics on the rows that judged the threshold, held out from the trees)")


@app.command()
def score(
    data_dir: Annotated[Path, typer.Argument(help="A data folder in the contract's format.")],
    model: Annotated[
        Path, typer.Option("--model", help="Model folder written by `detector train`.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Scores file (.csv or .parquet).")],
    at: Annotated[
        str,
        typer.Option(
            "--at", help="review (everything known now) or submission (only what was known then)."
        ),
    ] = "review",
    since: Annotated[
        str | None,
        typer.Option(
            help="First submission day to write (YYYY-MM-DD); earlier dossiers still count as history."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last submission day to write (YYYY-MM-DD).")
    ] = None,
    details: Annotated[
        bool,
        typer.Option(
            help="Also write data gaps, reasons in Vietnamese and English, class probabilities."
        ),
    ] = False,
    to_db: DatabaseUrl = None,
    explore_share: ExploreShare = 0.15,
    engine: Engine = "pandas",
    scheduler: Scheduler = None,
    workers: Workers = None,
    memory_limit: MemoryLimit = None,
) -> None:
    """Score dossiers: risk_score, proxy_type, flagged and reasons for each.

    With --engine dask the scores are also written one file per partition
    (beside --out as <out>.parts/, or only there when --out has no suffix).
    """
    from detector.batch import DETAIL_COLUMNS, SCORE_COLUMNS, score_dataset, write_table
    from features import read_dataset

    store = _case_store() if to_db is not None else None  # refused before any work
    loaded = ""
    if engine == "dask":
        if to_db is not None:
            raise UsageError(
                "--to-db loads cases from one process: score with --engine pandas for a "
                "province's case store (--engine dask is for national runs)"
            )
        _score_dask(data_dir, model, out, at, since, until, details,
                    (engine, scheduler, workers, memory_limit))  # fmt: skip
        return
    with _engine(engine, scheduler, workers, memory_limit), _progress() as bar:
        step = _stage_progress(bar, 3)
        step("reading the data folder")
        ds = read_dataset(data_dir)
        scored = score_dataset(ds, model, at=at, since=since, until=until, progress=step)
        cols = SCORE_COLUMNS + (DETAIL_COLUMNS if details else [])
        path = write_table(scored[cols], out)
        if store is not None and to_db is not None:
            loading = _stage_progress(bar, None)
            loaded = store.load(to_db, ds, scored, model, at=at, explore_share=explore_share,
                                progress=loading)  # fmt: skip
    n_flag = int(scored["flagged"].sum())
    console.print(
        f"{len(scored):,} dossiers scored at {at}, {n_flag:,} flagged ({n_flag / max(1, len(scored)):.2%}) → {path}"
    )
    if loaded:
        console.print(loaded)


def _score_dask(
    data_dir: Path,
    model: Path,
    out: Path,
    at: str,
    since: str | None,
    until: str | None,
    details: bool,
    engine: tuple[str, str | None, int | None, str | None],
) -> None:
    from detector import dask_engine
    from detector.batch import DETAIL_COLUMNS, SCORE_COLUMNS

    dask_engine.check_options(model, at, since, until)  # before a cluster starts
    with _engine(*engine), _progress() as bar:
        step = _stage_progress(bar, None)  # the partitions done are told as they finish
        step("reading the reference tables once for the workers")
        with dask_engine.prepared(data_dir) as refs:
            frame = dask_engine.scores(data_dir, model, at, since, until, refs=refs)
            cols = SCORE_COLUMNS + (DETAIL_COLUMNS if details else [])
            path, rows, flagged = dask_engine.write_partitioned(frame, out, cols, progress=step)
    console.print(
        f"{rows:,} dossiers scored at {at}, {flagged:,} flagged ({flagged / max(1, rows):.2%}) "
        f"→ {path} (parts: {dask_engine.parts_folder(out)})"
    )


@app.command()
def report(
    data_dir: Annotated[Path, typer.Argument(help="A data folder in the contract's format.")],
    model: Annotated[
        Path, typer.Option("--model", help="Model folder written by `detector train`.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Unit × month report (.csv or .parquet); officers go beside it."
        ),
    ],
    engine: Engine = "pandas",
    scheduler: Scheduler = None,
    workers: Workers = None,
    memory_limit: MemoryLimit = None,
) -> None:
    """Unit × month: claimed vs estimated genuine online share and suspected officer proxies (and per officer)."""
    from detector.batch import score_dataset, unit_report, write_table
    from features import read_dataset

    with _engine(engine, scheduler, workers, memory_limit), _progress() as bar:
        step = _stage_progress(bar, 4 if engine == "pandas" else None)
        if engine == "dask":
            from detector import dask_engine

            units, officers = dask_engine.unit_report(data_dir, model, progress=step)
        else:
            step("reading the data folder")
            ds = read_dataset(data_dir)
            scored = score_dataset(ds, model, at="review", progress=step)
            units, officers = unit_report(ds, scored)
    path = write_table(units, out)
    officers_path = write_table(
        officers, out.with_name(out.stem + "_officers" + (out.suffix or ".csv"))
    )
    if units.empty:  # a month without dossiers is not an error: the reports have a header only
        console.print(f"0 dossiers: no unit-month to report\nunit report: {path}")
        console.print(f"officer report: {officers_path}")
        return
    worst = units.assign(
        gap=units["claimed_online_share"] - units["estimated_genuine_online_share"]
    ).nlargest(5, "gap")
    table = Table(title="Largest gaps between claimed and estimated genuine online share")
    for col in ("unit_id", "month", "dossiers", "claimed", "genuine (est.)", "suspected proxies"):
        table.add_column(col, justify="left" if col in ("unit_id", "month") else "right")
    for r in worst.itertuples():
        table.add_row(
            r.unit_id,
            r.month,
            f"{r.dossiers:,}",
            f"{r.claimed_online_share:.1%}",
            f"{r.estimated_genuine_online_share:.1%}",
            f"{r.suspected_officer_proxy:.1f}",
        )
    console.print(table)
    console.print(f"unit report: {path}\nofficer report: {officers_path}")


rules_app = typer.Typer(help="Inspect and judge the rule file.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("backtest")
def rules_backtest(
    data_dir: Annotated[Path, typer.Argument(help="A data folder in the contract's format.")],
    labels: Annotated[Path, typer.Option("--labels", help="labels.csv (dossier_id, proxy_type).")],
    rules: Annotated[
        Path | None, typer.Option(help="Rule file to judge (default: the packaged rules.yaml).")
    ] = None,
    at: Annotated[str, typer.Option("--at", help="review or submission features.")] = "review",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the table as JSON.")
    ] = None,
    lang: Lang = "vi",
) -> None:
    """Each rule's hits and precision on labelled history, before a change goes live."""
    from detector.batch import labels_for
    from detector.rules import DEFAULT_RULES_PATH, backtest, format_backtest, load_rules
    from detector.scorer import usable_rules
    from features import read_dataset
    from features.compute import compute_features

    _lang(lang)
    if at not in ("submission", "review"):
        raise UsageError(f"--at must be review or submission (got {at!r})")
    with _progress() as bar:
        step = _stage_progress(bar, 2)
        step("reading the data folder")
        ds = read_dataset(data_dir)
        y = labels_for(ds, labels)
        step(f"features at {at}")
        feats = compute_features(ds.tables, ds.present, at)
    all_rules = load_rules(rules or DEFAULT_RULES_PATH)
    use = usable_rules(all_rules, feats.frame.columns)
    skipped = sorted({r.id for r in all_rules} - {r.id for r in use})
    result = backtest(use, feats.frame, y)
    console.print(format_backtest(result, lang=lang))
    if skipped:
        console.print(f"not applicable --at {at} (disabled or review-only): {', '.join(skipped)}")
    if json_out is not None:
        json_out.write_text(result.to_json(orient="records", force_ascii=False, indent=2))


@app.command()
def evaluate(
    data_dir: Annotated[Path, typer.Argument(help="A data folder in the contract's format.")],
    labels: Annotated[
        Path,
        typer.Option(
            "--labels",
            help="labels.csv (dossier_id, proxy_type); a scenarios.csv beside it adds kiosk checks.",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for metrics.json, summary.md and the plots.")
    ] = Path("eval"),
    holdout_months: Annotated[
        int, typer.Option(help="Latest months of the labelled period to hold out for judging.")
    ] = 3,
    at: Annotated[
        str, typer.Option("--at", help="review or submission features (and detector).")
    ] = "review",
    capacity: Annotated[
        float, typer.Option(help="Share of dossiers the inspectors can review (precision at k).")
    ] = 0.02,
    condition: Annotated[
        str,
        typer.Option(
            help="Labels the detector learns from: full (the training months' labels), none "
            "(the starter model), few (--label-share of them), noisy (--noise of them wrong)."
        ),
    ] = "full",
    label_share: Annotated[
        float, typer.Option(help="With --condition few: the share of labels kept, at random.")
    ] = 0.05,
    noise: Annotated[
        float, typer.Option(help="With --condition noisy: the share of labels made wrong.")
    ] = 0.10,
    cases_per_month: Annotated[
        int,
        typer.Option(
            help="Cases the team reviews a month: misuse found with dossier cases and actor cases."
        ),
    ] = 60,
    engine: Engine = "pandas",
    scheduler: Scheduler = None,
    workers: Workers = None,
    memory_limit: MemoryLimit = None,
) -> None:
    """Train on earlier labelled months; judge the detector and the baselines on the later ones.

    The held-out months are always judged on their true labels; --condition says
    what the detector (and the baselines that learn) may learn from.
    """
    from detector.batch import labels_for
    from detector.evaluate import (
        check_condition,
        headline_rows,
        methods_of,
        read_scenarios,
        write_outputs,
    )
    from detector.evaluate import evaluate as run
    from features import read_dataset

    if at not in ("submission", "review"):
        raise UsageError(f"--at must be review or submission (got {at!r})")
    if not 0 < capacity < 1:
        raise UsageError(f"--capacity must be between 0 and 1 (got {capacity})")
    if cases_per_month < 1:
        raise UsageError(f"--cases-per-month must be at least 1 (got {cases_per_month})")
    check_condition(condition, label_share, noise)
    with _engine(engine, scheduler, workers, memory_limit), _progress() as bar:
        step = _stage_progress(bar, 9)
        step("reading the data folder")
        ds = read_dataset(data_dir)
        y = labels_for(ds, labels)
        features = None
        if engine == "dask":
            from detector.dask_engine import features_of

            step(f"features at {at} on the cluster")
            features = features_of(data_dir, at)
        result = run(
            ds,
            y,
            at=at,
            holdout_months=holdout_months,
            capacity=capacity,
            scenarios=read_scenarios(labels),
            progress=step,
            condition=condition,
            label_share=label_share,
            noise=noise,
            cases_per_month=cases_per_month,
            features=features,
        )
        step("writing the outputs")
        paths = write_outputs(result, out)
    m = result["metrics"]
    s, r = m["split"], m["rows"]
    table = Table(
        title=f"Held-out months {', '.join(s['holdout_months'])} ({r['holdout']:,} dossiers, "
        f"{r['holdout_misuse']:,} misuse), trained before {s['split_at'][:10]}, features at {at}"
    )
    table.add_column("metric")
    for name in methods_of(m).values():
        table.add_column(name, justify="right")
    for name, cells in headline_rows(m):
        table.add_row(name, *cells)
    console.print(table)
    unmet = [t["metric"] for t in m["targets"] if not t["met"]]
    behind = [k for k, v in m["versus_baselines"].items() if not v["detector_ahead"]]
    cap = m["capacity_in_cases"]
    dc, ac = cap["dossier_cases"], cap["actor_cases"]
    console.print(
        f"at {cap['cases_per_month']} cases a month: dossier cases confirm "
        f"{dc['misuse_confirmed']:,} misuse dossiers ({dc['actors_confirmed']:,} actors), "
        f"actor cases {ac['misuse_confirmed']:,} ({ac['actors_confirmed']:,} actors)"
    )
    if unmet:
        console.print(f"detector targets not met: {', '.join(unmet)}")
    if behind:
        console.print(f"detector not ahead of the best baseline on: {', '.join(behind)}")
    console.print(f"evaluation written to {out}/ ({', '.join(p.name for p in paths)})")


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every failure to a one-line message and an exit code."""
    logging.basicConfig(
        level=os.environ.get("DETECTOR_LOG_LEVEL", "WARNING"),
        format="%(levelname)s %(name)s: %(message)s",
    )
    argv = optional_values(sys.argv[1:] if argv is None else list(argv))
    try:
        rv = app(args=argv, standalone_mode=False)
    except (click.exceptions.Abort, typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except (
        click.ClickException,
        typer.exceptions.TyperException,
    ) as exc:  # wrong option, missing argument
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _fail(f"{message} (see detector --help)".replace("\n", " "), 2)
    except DetectorError as exc:
        _fail(str(exc).replace("\n", " "), exc.exit_code)
    except MemoryError:
        _fail("out of memory; try a smaller input or a machine with more memory", 1)
    except Exception as exc:
        fd, path = tempfile.mkstemp(prefix="detector-crash-", suffix=".log")
        with os.fdopen(fd, "w") as fh:
            traceback.print_exc(file=fh)
        if type(exc).__name__ == "KilledWorker":  # distributed's: a worker died, over and over
            _fail(
                "a Dask worker died running the same task on every worker it was given, "
                "almost always for lack of memory: give each worker more (--memory-limit), "
                f"fewer workers on this machine (--workers) or a larger cluster (--scheduler); "
                f"details in {path}",
                1,
            )
        _fail(f"internal error ({type(exc).__name__}); details in {path}", 1)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
