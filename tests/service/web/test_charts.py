"""The dashboard charts' geometry (drawn by the templates as SVG)."""

from __future__ import annotations

import pytest

from service.web import charts


def test_share_axis_fits_the_data_but_keeps_the_gap_visible() -> None:
    # shares of 80-85 %: an axis from 70 % to 90 %, ticks every 5 %
    assert charts.share_axis(0.80, 0.85) == (0.7, 0.9, 0.05)
    # shares reaching near 0 and 100 %: the whole axis, ticks every 10 %
    assert charts.share_axis(0.02, 0.99) == (0.0, 1.0, 0.1)


def test_line_chart_places_values_and_breaks_on_gaps() -> None:
    chart = charts.line_chart(
        ["2025-07", "2025-08", "2025-09"],
        {"claimed": [0.9, 0.8, None], "genuine": [0.7, 0.6, 0.65]},
        width=300,
        height=200,
    )
    claimed, genuine = chart.series
    # the higher share is higher on the page (smaller y), months go left to right
    assert claimed.points[0].y < genuine.points[0].y
    assert [p.x for p in genuine.points] == sorted(p.x for p in genuine.points)
    # a missing month breaks the line: two points drawn, one move and one line
    assert claimed.path.count("M") == 1 and claimed.path.count("L") == 1
    # the band between the lines covers the months where both are known
    assert chart.band.startswith("M") and chart.band.endswith("Z")
    assert chart.y_ticks[0].value == pytest.approx(0.5)
    assert chart.y_ticks[-1].value == pytest.approx(1.0)


def test_line_chart_refuses_a_series_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="expected 2 values"):
        charts.line_chart(["2025-07", "2025-08"], {"claimed": [0.5]})


def test_bar_chart_orders_scales_and_limits() -> None:
    rows = [(f"CB{i:02d}", float(i), i // 2, {}) for i in range(1, 21)]
    chart = charts.bar_chart(rows, width=600, limit=5)
    assert [b.label for b in chart.bars] == ["CB20", "CB19", "CB18", "CB17", "CB16"]
    # the axis ends on a round number at or above the largest value; bar lengths are in scale
    top = chart.x_ticks[-1].value
    assert top >= 20 and top % 5 == 0
    assert chart.bars[0].length == pytest.approx(chart.plot_width * 20 / top)
    assert chart.bars[1].y > chart.bars[0].y


def test_bar_chart_of_nothing() -> None:
    chart = charts.bar_chart([])
    assert chart.bars == () and chart.x_ticks


def test_the_target_is_a_line_the_axis_makes_room_for() -> None:
    # shares of 40-50 % and a target of 80 %: the axis reaches the target, drawn above the data
    chart = charts.line_chart(
        ["2025-07", "2025-08"], {"claimed": [0.5, 0.45], "genuine": [0.4, 0.42]}, target=0.8
    )
    assert chart.target is not None and chart.target.value == 0.8
    assert chart.y_ticks[-1].value >= 0.8
    assert chart.target.at < min(p.y for s in chart.series for p in s.points)
    assert charts.line_chart(["2025-07"], {"claimed": [0.5]}).target is None


def test_months_without_figures_at_the_ends_are_left_off_the_axis() -> None:
    rows = [
        {"month": "2025-06", "claimed": None},
        {"month": "2025-07", "claimed": 0.5},
        {"month": "2025-08", "claimed": None},  # a gap inside stays
        {"month": "2025-09", "claimed": 0.6},
        {"month": "2025-10", "claimed": None},  # cases, no figures yet: the empty month
    ]
    kept = charts.known_span(rows, ["claimed"])
    assert [r["month"] for r in kept] == ["2025-07", "2025-08", "2025-09"]
    assert charts.known_span(rows[:1], ["claimed"]) == []
