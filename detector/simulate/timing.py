"""When things happen: working days, office hours and the portal's peaks.

Times are int64 seconds since the start of the period, in local time
(+07:00, no daylight saving), so they can be drawn and compared vectorised.
"""

from __future__ import annotations

import numpy as np

DAY = 86_400
MINUTE = 60


def _minute_profile(kind: str) -> np.ndarray:
    m = np.arange(1440)
    w = np.zeros(1440)
    peak = ((m >= 450) & (m < 600)) | ((m >= 900) & (m < 1020))  # 07:30–10:00, 15:00–17:00
    if kind == "office":  # desks open 07:30–11:30 and 13:30–17:00
        open_ = ((m >= 450) & (m < 690)) | ((m >= 810) & (m < 1020))
        w[open_] = 1.0
        w[open_ & peak] = 2.0
    elif kind == "online":
        w[(m >= 300)] = 0.35
        w[(m >= 600) & (m < 900)] = 1.4
        w[(m >= 1140) & (m < 1320)] = 1.1  # evenings after work
        w[peak] = 2.6
        w[m < 300] = 0.03
    else:  # pragma: no cover - programming error
        raise ValueError(kind)
    return w / w.sum()


_PROFILES = {k: _minute_profile(k) for k in ("office", "online")}


class Calendar:
    """Days of the period with their weekday and holidays."""

    def __init__(self, start: str, months: int) -> None:
        self.start = np.datetime64(start, "D")
        end = (np.datetime64(start[:7], "M") + months).astype("datetime64[D]")
        self.n_days = int((end - self.start).astype(int))
        days = self.start + np.arange(self.n_days)
        self.dow = (days.astype("datetime64[D]").astype(int) - 4) % 7  # 0 = Monday
        self.day_of_month = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(
            int
        ) + 1
        self.month_index = (
            days.astype("datetime64[M]") - self.start.astype("datetime64[M]")
        ).astype(int)
        holiday = np.zeros(self.n_days, bool)
        for first, last in (
            ("2025-09-01", "2025-09-02"),
            ("2026-01-01", "2026-01-01"),
            ("2026-02-14", "2026-02-22"),
            ("2026-04-27", "2026-05-01"),
            ("2026-09-01", "2026-09-02"),
            ("2027-01-01", "2027-01-01"),
            ("2027-02-04", "2027-02-10"),
        ):
            holiday |= (days >= np.datetime64(first)) & (days <= np.datetime64(last))
        self.holiday = holiday

    def day_weights(self, kind: str) -> np.ndarray:
        if kind == "office":
            w = np.where(self.dow < 5, 1.0, np.where(self.dow == 5, 0.08, 0.0))
            w = np.where(self.holiday, 0.0, w)
        else:
            w = np.where(self.dow < 5, 1.0, np.where(self.dow == 5, 0.45, 0.35))
            w = np.where(self.holiday, 0.15, w)
        return w / w.sum()

    def draw(
        self, rng: np.random.Generator, n: int, kind: str, day_weights: np.ndarray | None = None
    ) -> np.ndarray:
        """Draw ``n`` moments (seconds since start) on the ``kind`` profile."""
        dw = self.day_weights(kind) if day_weights is None else day_weights
        day = rng.choice(self.n_days, size=n, p=dw)
        minute = rng.choice(1440, size=n, p=_PROFILES[kind])
        return (
            day.astype(np.int64) * DAY + minute.astype(np.int64) * MINUTE + rng.integers(0, 60, n)
        )

    def at_office_hours(self, rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
        """A moment in office hours on each given day index."""
        minute = rng.choice(1440, size=len(day), p=_PROFILES["office"])
        return (
            day.astype(np.int64) * DAY
            + minute.astype(np.int64) * MINUTE
            + rng.integers(0, 60, len(day))
        )

    def office_day_weights(self) -> np.ndarray:
        return self.day_weights("office")

    def to_strings(self, seconds: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
        """ISO 8601 with the +07:00 offset; ``missing`` rows become None."""
        ts = self.start.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
        out = np.char.add(np.datetime_as_string(ts, unit="s"), "+07:00").astype(object)
        if missing is not None:
            out[missing] = None
        return out
