"""Citizen IDs (CCCD), tax codes (MST) and masking of personal values.

Everything here works on whole pandas Series: a data folder holds a million
dossiers, so per-row Python loops are avoided; where a Python call is needed
(``stdnum``) it runs once per *unique* value.

The CCCD layout (Circular 59/2021/TT-BCA, as restated in the data contract):
digits 1–3 are the province where the birth was registered, digit 4 encodes
century and sex (0 male / 1 female born 1900–1999, 2 male / 3 female born
2000–2099), digits 5–6 are the last two digits of the birth year, and digits
7–12 a serial number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError
from stdnum.vn import mst

from features._private import STR, as_str, is_missing, re_replace

#: province codes of the 63 provinces (pre-2025 boundaries) used in CCCD digits 1–3
PROVINCE_NAMES: dict[str, str] = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn",
    "008": "Tuyên Quang", "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu",
    "014": "Sơn La", "015": "Yên Bái", "017": "Hòa Bình", "019": "Thái Nguyên",
    "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang", "025": "Phú Thọ",
    "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định",
    "037": "Ninh Bình", "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh",
    "044": "Quảng Bình", "045": "Quảng Trị", "046": "Thừa Thiên Huế", "048": "Đà Nẵng",
    "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định", "054": "Phú Yên",
    "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
    "070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
    "077": "Bà Rịa–Vũng Tàu", "079": "TP. Hồ Chí Minh", "080": "Long An",
    "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long",
    "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ",
    "093": "Hậu Giang", "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}  # fmt: skip
VALID_PROVINCE_CODES: frozenset[str] = frozenset(PROVINCE_NAMES)

_SEPARATORS = r"[\s\p{Z}.\-_/]+"
_PROVINCES = list(VALID_PROVINCE_CODES)


def compact_id(s: pd.Series | Iterable[Any]) -> pd.Series:
    """Drop whitespace and the separators people type inside IDs (``.``, ``-``, ``/``).

    Returns a ``str`` Series; empty results are unknown (NA).
    """
    out = re_replace(as_str(s), _SEPARATORS, "")
    return out.where(out != "")


def normalise_person_id(s: pd.Series | Iterable[Any]) -> tuple[pd.Series, pd.Series]:
    """Compact citizen IDs and restore leading zeros lost by a spreadsheet.

    Parameters
    ----------
    s
        Raw person IDs.

    Returns
    -------
    (ids, repaired)
        The normalised IDs (``str``) and a boolean Series, True where leading
        zeros were restored.

    Notes
    -----
    Every valid CCCD starts with ``0`` because province codes run from 001 to
    096, so an 11-digit value whose ``0``-prefixed form starts with a real
    province code is a CCCD that went through a number format. A 10-digit value
    is repaired the same way when two zeros were lost (only the Hà Nội-area
    codes ``001``–``008`` allow that): Excel and int64 Parquet columns drop
    *all* leading zeros, not just one.
    """
    ids = compact_id(s)
    lengths = ids.str.len()
    short = ids.str.fullmatch(r"\d+").fillna(False).astype(bool) & lengths.isin([10, 11])
    padded = ids.str.zfill(12)
    repaired = short & padded.str.slice(0, 3).isin(_PROVINCES)
    return ids.where(~repaired, padded), repaired.astype(bool)


def _first_code(conditions: list[Any], codes: list[str], index: pd.Index) -> pd.Series:
    """The code of the first true condition per row, NA where none holds."""
    conds = [np.asarray(c, dtype=bool) for c in conditions]
    out = pd.Series(np.select(conds, codes, default=""), index=index, dtype=STR)
    return out.where(out != "")


@overload
def cccd_century_sex_digit(birth_year: int, sex: str) -> int: ...
@overload
def cccd_century_sex_digit(birth_year: pd.Series, sex: pd.Series) -> pd.Series: ...
def cccd_century_sex_digit(birth_year: Any, sex: Any) -> Any:
    """CCCD digit 4 for a birth year and sex (``M``/``F``).

    Used to check recorded IDs and by the simulator to generate valid ones.

    Parameters
    ----------
    birth_year, sex
        Scalars, or aligned Series (unknown or out-of-range inputs give NA).

    Returns
    -------
    int or Series of Int64
        0/1 (male/female, born 1900–1999) or 2/3 (born 2000–2099).

    Raises
    ------
    ValueError
        For scalar input outside 1900–2099 or a sex other than ``M``/``F``.
    """
    if isinstance(birth_year, pd.Series) or isinstance(sex, pd.Series):
        year = pd.Series(birth_year).astype("Int64")
        sx = as_str(pd.Series(sex, index=year.index) if not isinstance(sex, pd.Series) else sex)
        female = sx.map({"M": 0, "F": 1}).astype("Int64")
        digit = (year // 100 - 19) * 2 + female
        ok = year.between(1900, 2099) & female.notna()
        return digit.where(ok.fillna(False).astype(bool))
    if not 1900 <= int(birth_year) <= 2099:
        raise ValueError(f"birth year must be within 1900-2099 for a CCCD, got {birth_year}")
    if sex not in ("M", "F"):
        raise ValueError(f"sex must be 'M' or 'F', got {sex!r}")
    return (int(birth_year) // 100 - 19) * 2 + (sex == "F")


def check_person_id(
    ids: pd.Series,
    birth_date: pd.Series | None = None,
    sex: pd.Series | None = None,
) -> pd.Series:
    """The first problem of each citizen ID, or NA when it is consistent.

    Parameters
    ----------
    ids
        Person IDs; separators are ignored but lost zeros are *not* restored
        here (see :func:`normalise_person_id`).
    birth_date, sex
        Optional, aligned with ``ids``: the person's recorded birth date and
        sex (``M``/``F``), e.g. joined from the ``people`` table. Unknown
        values are not held against the ID.

    Returns
    -------
    Series of str
        ``not_12_digits``, ``unknown_province``, ``bad_century_digit``,
        ``century_sex_mismatch``, ``birth_year_mismatch`` or NA (also NA for
        an unknown ID), checked in that order.
    """
    ids = compact_id(ids)
    present = ids.notna().to_numpy()
    is12 = ids.str.fullmatch(r"\d{12}").fillna(False).astype(bool).to_numpy()
    province_ok = ids.str.slice(0, 3).isin(_PROVINCES).to_numpy()
    digits = ids.where(is12, "000000000000")  # every row parses; non-12 rows are caught first
    digit4 = _int_slice(digits, 3, 4)
    conditions = [present & ~is12, present & ~province_ok, present & (digit4 > 3)]
    codes = ["not_12_digits", "unknown_province", "bad_century_digit"]
    if birth_date is not None or sex is not None:
        n = len(ids)
        year = np.full(n, np.nan)
        if birth_date is not None:
            born = pd.to_datetime(pd.Series(birth_date, index=ids.index), errors="coerce")
            year = born.dt.year.to_numpy(dtype=float, na_value=np.nan)
        female = np.full(n, -1)
        if sex is not None:
            sx = as_str(pd.Series(sex, index=ids.index))
            female = np.where(sx == "F", 1, np.where(sx == "M", 0, -1))
        sex_bad = (female >= 0) & (female != digit4 % 2)
        century_bad = ~np.isnan(year) & (year // 100 != 19 + digit4 // 2)
        year_bad = ~np.isnan(year) & (year % 100 != _int_slice(digits, 4, 6))
        conditions += [present & (sex_bad | century_bad), present & year_bad]
        codes += ["century_sex_mismatch", "birth_year_mismatch"]
    return _first_code(conditions, codes, ids.index)


def _int_slice(digits: pd.Series, start: int, stop: int) -> np.ndarray:
    """Characters ``start:stop`` of all-digit strings, as integers (in Arrow)."""
    part = pc.utf8_slice_codeunits(pa.array(digits, type=pa.large_string()), start, stop)
    return np.asarray(pc.cast(part, pa.int64()).to_numpy(zero_copy_only=False))


def normalise_business_id(s: pd.Series | Iterable[Any]) -> pd.Series:
    """Tax codes in one form: ``0100233488`` or, for a branch, ``0100233488-001``.

    Both ``0100233488-001`` and ``0100233488001`` (as stdnum and some exports
    write branches) become the dash form, so the two spellings join.
    """
    ids = compact_id(s)
    branch = ids.str.fullmatch(r"\d{13}").fillna(False).astype(bool)
    return ids.where(~branch, ids.str.slice(0, 10) + "-" + ids.str.slice(10, 13))


def _mst_problem(value: str) -> str | None:
    try:
        mst.validate(value)
    except InvalidChecksum:
        return "bad_check_digit"
    except InvalidComponent:
        return "bad_component"
    except ValidationError:
        return "not_10_or_13_digits"
    return None


def check_business_id(s: pd.Series | Iterable[Any]) -> pd.Series:
    """The problem of each tax code (MST), or NA when it is valid.

    Returns
    -------
    Series of str
        ``not_10_or_13_digits`` (wrong length or not digits),
        ``bad_component`` (serial ``0000000`` or branch ``000``),
        ``bad_check_digit``, or NA (also NA for an unknown value).

    Notes
    -----
    Validation is python-stdnum's ``stdnum.vn.mst``, run once per unique value.
    """
    ids = normalise_business_id(s)
    uniques = ids.dropna().unique()
    problems = {v: _mst_problem(v) for v in uniques}
    return ids.map(problems).astype(STR)


def normalise_owner_id(s: pd.Series | Iterable[Any]) -> tuple[pd.Series, pd.Series]:
    """Normalise IDs that may be a citizen ID or a tax code (owners, holders, grantors).

    Returns
    -------
    (ids, repaired)
        Tax codes in dash form (:func:`normalise_business_id`), citizen IDs
        with lost leading zeros restored (:func:`normalise_person_id`), and the
        repaired mask.

    Notes
    -----
    A 10-digit value is a tax code when its check digit is valid; otherwise it
    is treated as a citizen ID that lost two leading zeros, if that gives a
    real province code.
    """
    ids = compact_id(s)
    digits = ids.str.fullmatch(r"\d+").fillna(False).astype(bool)
    lengths = ids.str.len()
    as_person, repaired = normalise_person_id(ids)
    ten = digits & (lengths == 10)
    valid_mst = pd.Series(False, index=ids.index)
    if ten.any():
        valid_mst[ten] = check_business_id(ids[ten]).isna()
    repaired = repaired & ~valid_mst
    out = ids.where(~repaired, as_person)
    out = out.where(~(digits & (lengths == 13)), normalise_business_id(ids))
    return out, repaired.astype(bool)


def classify_owner_id(s: pd.Series | Iterable[Any]) -> pd.Series:
    """Whether each owner ID looks like a ``person``, a ``business`` or is ``malformed``.

    The shape decides (after :func:`normalise_owner_id`): 12 digits is a
    citizen ID, 10 digits or 10+3 a tax code; whether the digits are *valid*
    is for :func:`check_person_id` / :func:`check_business_id`. Unknown gives NA.
    """
    ids, _ = normalise_owner_id(s)
    return owner_id_kind(ids)


def owner_id_kind(ids: pd.Series) -> pd.Series:
    """Like :func:`classify_owner_id`, for IDs already normalised (no re-normalisation)."""
    ids = as_str(ids)
    person = ids.str.fullmatch(r"\d{12}").fillna(False).astype(bool)
    business = ids.str.fullmatch(r"\d{10}(-\d{3})?").fillna(False).astype(bool)
    return _first_code(
        [person, business, ids.notna()], ["person", "business", "malformed"], ids.index
    )


def mask_value(v: object) -> str | None:
    """A personal value safe to show in a report: only the last 2 characters kept.

    ``"079095012345"`` becomes ``"**********45"``. The first digits of a
    citizen ID tell the birth province, sex and birth year, which narrow a
    guess to a few million values; two digits leave ten billion. Values
    shorter than 8 characters are fully masked. Unknown gives None.
    """
    if is_missing(v):
        return None
    text = str(v)
    if len(text) < 8:
        return "*" * len(text)
    return "*" * (len(text) - 2) + text[-2:]


def pseudonymiser(secret: bytes, digest_size: int = 16) -> Callable[[str], str]:
    """A keyed hash of personal values (citizen IDs, phones, payment tokens), as hex.

    The one pseudonym of the project: the evidence graphs (``digest_size=6``,
    12 characters a reviewer can compare), the scoring API's history and log
    (16 bytes, so ten million values never collide) and the Redis keys.
    Keyed BLAKE2b (a MAC by design, faster than HMAC per value): the same
    value gives the same pseudonym under the same secret, and without the
    secret a guessed value cannot be tested.

    Raises
    ------
    ValueError
        On an empty secret.
    """
    if not secret:
        raise ValueError("the pseudonymisation secret must not be empty")
    key = hashlib.blake2b(secret, digest_size=32).digest()
    blake2b = hashlib.blake2b

    def pseudonymise(value: str) -> str:
        return blake2b(str(value).encode(), key=key, digest_size=digest_size).hexdigest()

    return pseudonymise
