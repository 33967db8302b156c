"""Geometry of the dashboard's charts, drawn as inline SVG by the templates.

The server computes every coordinate, so the charts need no script and no
chart library, print as they look, and stay readable with JavaScript off.
Coordinates are in the SVG's own units (its ``viewBox``); the page scales
the picture to the column width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Point:
    """One value of a series, placed on the chart."""

    x: float
    y: float
    value: float | None
    label: str  # the category (month) it belongs to


@dataclass(frozen=True)
class Series:
    """A named line of a line chart (``key`` picks its colour in the stylesheet)."""

    key: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        """An SVG path through the known values; a gap (None) breaks the line."""
        parts: list[str] = []
        pen_up = True
        for p in self.points:
            if p.value is None:
                pen_up = True
                continue
            parts.append(f"{'M' if pen_up else 'L'}{p.x:.1f},{p.y:.1f}")
            pen_up = False
        return " ".join(parts)


@dataclass(frozen=True)
class Tick:
    """A grid line with its label."""

    at: float
    value: float


@dataclass(frozen=True)
class LineChart:
    """A line chart of shares (0..1) over categories."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: tuple[Series, ...]
    y_ticks: tuple[Tick, ...]
    x_labels: tuple[tuple[float, str], ...]
    #: the band between the first two series (claimed above genuine): the inflation
    band: str = ""
    #: a horizontal reference line (the unit's online target) as (y, value), or None
    target: Tick | None = None


def share_axis(low: float, high: float) -> tuple[float, float, float]:
    """The y axis of shares between ``low`` and ``high``: (bottom, top, tick step).

    The axis starts at 0 only when the data come near it: shares of 80-85 %
    drawn from 0 would hide a 2-point gap between claimed and genuine, which
    is the whole point of the chart. Bounds are on a 10 % grid, ticks every
    5 or 10 %.
    """
    bottom = max(0.0, math.floor((low - 0.05) * 10) / 10)
    top = min(1.0, math.ceil((high + 0.02) * 10) / 10)
    if top <= bottom:
        bottom, top = max(0.0, top - 0.1), max(top, 0.1)
    step = 0.05 if top - bottom <= 0.4 else 0.1
    return round(bottom, 2), round(top, 2), step


def line_chart(
    categories: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    target: float | None = None,
    width: int = 1000,
    height: int = 320,
) -> LineChart:
    """Lines of shares over ``categories``, on an axis fitted to them (:func:`share_axis`).

    Parameters
    ----------
    categories
        The x axis in order (months).
    series
        Key -> one value (a share in 0..1, or None) per category.
    target
        A share drawn as a horizontal line (the unit's online target); the
        axis stretches to show it.
    width, height
        The SVG's viewBox size.

    Returns
    -------
    LineChart
        Coordinates ready for the template; ``band`` fills the area between
        the first two series where both are known.

    Raises
    ------
    ValueError
        When a series does not have one value per category.
    """
    left, right, top, bottom = 56, 44, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(categories)
    for key, values in series.items():
        if len(values) != n:
            raise ValueError(
                f"series {key!r}: expected {n} values (one per month), found {len(values)}"
            )
    known = [v for values in series.values() for v in values if v is not None]
    if target is not None and known:
        known.append(target)
    low, high, step = share_axis(min(known, default=0.0), max(known, default=1.0))

    def x_of(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (max(low, min(high, v)) - low) / (high - low))

    lines = tuple(
        Series(
            key,
            tuple(
                Point(x_of(i), y_of(v) if v is not None else 0.0, v, categories[i])
                for i, v in enumerate(values)
            ),
        )
        for key, values in series.items()
    )
    band = ""
    if len(lines) >= 2:
        upper, lower = lines[0].points, lines[1].points
        both = [i for i in range(n) if upper[i].value is not None and lower[i].value is not None]
        if len(both) >= 2 and both == list(range(both[0], both[-1] + 1)):
            top_edge = [f"{upper[i].x:.1f},{upper[i].y:.1f}" for i in both]
            bottom_edge = [f"{lower[i].x:.1f},{lower[i].y:.1f}" for i in reversed(both)]
            band = "M" + " L".join(top_edge + bottom_edge) + " Z"
    count = round((high - low) / step)
    ticks = tuple(Tick(y_of(low + k * step), low + k * step) for k in range(count + 1))
    every = max(1, math.ceil(n / 12))  # at most about 12 month labels
    x_labels = tuple((x_of(i), c) for i, c in enumerate(categories) if i % every == 0)
    line = Tick(y_of(target), target) if target is not None and known else None
    return LineChart(width, height, left, right, top, bottom, lines, ticks, x_labels, band, line)


def known_span(rows: Sequence[dict[str, object]], keys: Sequence[str]) -> list[dict[str, object]]:
    """``rows`` from the first to the last one with a value under any of ``keys``.

    A month with cases but no figures yet (the report has not reached it)
    would draw an empty place at the end of a chart's axis; months without
    figures between two with figures stay, as gaps in the line.
    """
    known = [i for i, r in enumerate(rows) if any(r.get(k) is not None for k in keys)]
    return list(rows[known[0] : known[-1] + 1]) if known else []


@dataclass(frozen=True)
class Bar:
    """One horizontal bar."""

    label: str
    value: float
    marker: int  # a second figure shown beside the bar (flagged dossiers)
    y: float
    length: float
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, largest first."""

    width: int
    height: int
    left: int
    bar_height: int
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    plot_width: int


def bar_chart(
    rows: Sequence[tuple[str, float, int, dict[str, object]]],
    *,
    width: int = 1000,
    bar_height: int = 26,
    limit: int = 15,
) -> BarChart:
    """Horizontal bars for the ``limit`` largest values.

    Parameters
    ----------
    rows
        ``(label, value, marker, extra)``: the value draws the bar; ``marker``
        (a count) is written after it; ``extra`` travels to the template.
    width
        The SVG's viewBox width; the height follows from the number of bars.
    bar_height
        Height of one bar's row.
    limit
        At most this many bars (the largest), so the chart stays readable.

    Returns
    -------
    BarChart
        Bars with their y and length, and 4-5 "nice" ticks on the x axis.
    """
    left, right, top = 150, 70, 8
    ordered = sorted(rows, key=lambda r: (-r[1], r[0]))[:limit]
    top_value = max((r[1] for r in ordered), default=0.0)
    step = _nice_step(top_value / 4) if top_value > 0 else 1.0
    axis_max = step * math.ceil(top_value / step) if top_value > 0 else 1.0
    plot_w = width - left - right
    bars = tuple(
        Bar(
            label,
            value,
            marker,
            top + i * bar_height,
            plot_w * value / axis_max if axis_max else 0.0,
            dict(extra),
        )
        for i, (label, value, marker, extra) in enumerate(ordered)
    )
    height = top + len(bars) * bar_height + 28
    ticks = tuple(
        Tick(left + plot_w * (k * step) / axis_max, k * step)
        for k in range(round(axis_max / step) + 1)
    )
    return BarChart(width, height, left, bar_height, bars, ticks, plot_w)


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return float(m * power)
    return float(10 * power)  # pragma: no cover - the loop always returns
