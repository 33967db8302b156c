"""Prometheus metrics: requests, latency, flags by type, unscored answers, history size.

With several workers, ``detector serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` so
that ``GET /metrics`` adds up every worker's counters (prometheus_client's
multiprocess mode); with one process the default registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REQUESTS = Counter(
    "detector_requests_total", "HTTP requests answered", ["endpoint", "method", "status"]
)
LATENCY = Histogram(
    "detector_request_seconds",
    "Time to answer, by endpoint",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SCORED = Counter("detector_scored_total", "Dossiers scored", ["channel"])
FLAGS = Counter("detector_flags_total", "Dossiers flagged, by predicted proxy_type", ["proxy_type"])
UNSCORED = Counter("detector_unscored_total", "Answers with status unscored, by reason", ["reason"])
REPEATS = Counter(
    "detector_repeats_total", "Dossiers sent again (the recorded answer was returned)"
)
HISTORY = Gauge(
    "detector_history_dossiers",
    "Dossiers in the online history, by part",
    ["part"],
    multiprocess_mode="max",
)


def render() -> tuple[bytes, str]:
    """The metrics page (every worker's, in multiprocess mode) and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
