"""The dirt real exports have: malformed IDs, names typed without diacritics or
in capitals, missing cells, duplicated rows, clocks that disagree.

Every rate is multiplied by ``SimConfig.dirt``.  Dirt never changes the truth:
a duplicated row is the same dossier, a mistyped ID still belongs to its owner.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd


def strip_diacritics(s: str) -> str:
    s = unicodedata.normalize("NFD", s).replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in s if unicodedata.category(ch) != "Mn")


def _drop_letter(name: str) -> str:
    """Drop the last letter of the last word ("Nguyễn Văn An" -> "Nguyễn Văn A")."""
    return name.rstrip()[:-1]


def _rows(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    return np.flatnonzero(rng.random(n) < rate)


def _set(df: pd.DataFrame, col: str, rows: np.ndarray, values: object) -> None:
    if len(rows):
        df.iloc[rows, df.columns.get_loc(col)] = values


def dirty(
    tables: dict[str, pd.DataFrame], rng: np.random.Generator, scale: float
) -> dict[str, int]:
    """Damage ``tables`` in place, as exports do; return how many cells of each kind changed."""
    if scale <= 0:
        return {}
    counts: dict[str, int] = {}
    d = tables["dossiers"]
    n = len(d)

    def rows(rate: float, mask: np.ndarray | None = None) -> np.ndarray:
        r = _rows(rng, n, rate * scale)
        return r if mask is None else r[mask[r]]

    is_person = d["owner_id"].str.len().eq(12).to_numpy()
    r = rows(0.004, is_person)  # spaces typed into the CCCD
    _set(d, "owner_id", r, [f"{x[:3]} {x[3:6]} {x[6:]}" for x in d["owner_id"].to_numpy()[r]])
    counts["owner_id_spaced"] = len(r)
    r = rows(0.003, is_person)  # a spreadsheet dropped the leading zero
    _set(d, "owner_id", r, [x[1:] for x in d["owner_id"].to_numpy()[r]])
    counts["owner_id_lost_zero"] = len(r)
    r = rows(0.001)
    _set(d, "owner_id", r, [f"{x:09d}" for x in rng.integers(0, 10**9, len(r))])
    counts["owner_id_garbage"] = len(r)

    names = d["owner_name"].to_numpy()
    has = pd.notna(names)
    r = rows(0.20, has)
    _set(d, "owner_name", r, [strip_diacritics(x) for x in names[r]])
    r2 = rows(0.08, has)
    _set(d, "owner_name", r2, [x.upper() for x in d["owner_name"].to_numpy()[r2]])
    r3 = rows(0.04, has)
    _set(
        d, "owner_name", r3, [" " + x.replace(" ", "  ", 1) for x in d["owner_name"].to_numpy()[r3]]
    )
    counts["owner_name_variants"] = len(r) + len(r2) + len(r3)
    # a letter dropped while typing: a real mismatch with the population record
    r4 = rows(0.003, pd.notna(d["owner_name"].to_numpy()) & is_person)
    _set(d, "owner_name", r4, [_drop_letter(x) for x in d["owner_name"].to_numpy()[r4]])
    counts["owner_name_typo"] = len(r4)
    _set(d, "owner_name", rows(0.03), None)

    online = d["channel"].eq("online").to_numpy()
    _set(d, "ip", rows(0.03, online), None)
    _set(d, "device_id", rows(0.04, online), None)
    r = rows(0.001, online)
    bad_ips = np.array(["unknown", "300.12.1.1", "192.168.1", "::ffff:zz", "0"], dtype=object)
    _set(d, "ip", r, bad_ips[rng.integers(0, len(bad_ips), len(r))])
    counts["bad_ip"] = len(r)
    r = rows(0.003)
    _set(
        d,
        "channel",
        r,
        [
            c.capitalize() if i % 2 else f" {c.upper()}"
            for i, c in enumerate(d["channel"].to_numpy()[r])
        ],
    )
    r = rows(0.0003)
    _set(d, "channel", r, "web")
    counts["bad_channel"] = len(r)
    has_decl = d["declared_relation"].notna().to_numpy()
    r = rows(0.002, has_decl)
    _set(d, "declared_relation", r, [x.capitalize() for x in d["declared_relation"].to_numpy()[r]])

    sub = d["submitted_at"].to_numpy()
    r = rows(0.001)  # the offset was lost on export
    _set(d, "submitted_at", r, [x[:19].replace("T", " ") for x in sub[r]])
    counts["timestamp_no_offset"] = len(r)
    r = rows(0.0002)
    _set(d, "submitted_at", r, [f"{x[8:10]}/{x[5:7]}/{x[:4]} {x[11:16]}x" for x in sub[r]])
    counts["timestamp_garbage"] = len(r)
    r = rows(0.0005, online)  # the unit's clock is behind the portal's
    ts = pd.to_datetime(
        pd.Series(d["submitted_at"].to_numpy()[r]), format="ISO8601", errors="coerce", utc=True
    )
    skew = ts.dt.tz_convert("Asia/Ho_Chi_Minh") - pd.to_timedelta(
        rng.integers(1, 60, len(r)), unit="m"
    )
    _set(d, "synced_at", r, skew.dt.strftime("%Y-%m-%dT%H:%M:%S+07:00").to_numpy())
    counts["synced_before_submitted"] = len(r)

    # the same dossier exported twice
    dup = _rows(rng, n, 0.005 * scale)
    if len(dup):
        tables["dossiers"] = pd.concat([d, d.iloc[dup]], ignore_index=True)
        order = rng.permutation(len(tables["dossiers"]))
        tables["dossiers"] = tables["dossiers"].iloc[
            np.sort(order)
        ]  # keep time order; duplicates at the end
    counts["duplicated_rows"] = len(dup)

    p = tables["people"]
    m = len(p)
    r = _rows(rng, m, 0.005 * scale)  # sex typed wrong in the extract: contradicts the CCCD
    _set(p, "sex", r, np.where(p["sex"].to_numpy()[r] == "M", "F", "M"))
    counts["people_sex_contradiction"] = len(r)
    r = _rows(rng, m, 0.05 * scale)
    _set(p, "full_name", r, [x.upper() for x in p["full_name"].to_numpy()[r]])
    _set(p, "birth_date", _rows(rng, m, 0.003 * scale), None)

    acc = tables["accounts"]
    r = _rows(rng, len(acc), 0.002 * scale)
    r = r[acc["holder_id"].str.len().to_numpy()[r] == 12]
    _set(acc, "holder_id", r, [x[1:] for x in acc["holder_id"].to_numpy()[r]])
    counts["holder_id_lost_zero"] = len(r)
    return counts
