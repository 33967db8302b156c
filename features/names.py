"""Comparing Vietnamese names as people actually type them.

Names on forms are typed without diacritics, in capitals, or with doubled
spaces ("NGUYEN VAN  AN" for "Nguyễn Văn An"). Comparing them raw would call
most owners mismatched, so every comparison goes through :func:`normalise_name`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, overload

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features._private import STR, as_str, is_missing


def _normalise_array(values: pa.Array) -> pa.Array:
    out = pc.utf8_normalize(values, "NFD")
    out = pc.replace_substring_regex(out, r"\p{Mn}", "")  # combining marks: tones, hats, horns
    out = pc.replace_substring(out, "đ", "d")  # đ/Đ are letters of their own, NFD keeps them
    out = pc.replace_substring(out, "Đ", "d")
    out = pc.utf8_lower(out)
    out = pc.replace_substring_regex(out, r"[\s\p{Z}]+", " ")
    return pc.utf8_trim(out, " ")


@overload
def normalise_name(s: str) -> str | None: ...
@overload
def normalise_name(s: pd.Series | Iterable[Any]) -> pd.Series: ...
def normalise_name(s: Any) -> Any:
    """Fold a name to lower-case ASCII-like letters with single spaces.

    ``"NGUYỄN  Văn   An"`` and ``"nguyen van an"`` both become
    ``"nguyen van an"``.

    Parameters
    ----------
    s
        A name, or a Series of names.

    Returns
    -------
    str, None or Series of str
        The folded name(s); empty or unknown gives None / NA.

    Notes
    -----
    NFD-decomposes, drops combining marks, maps ``đ``/``Đ`` to ``d``,
    lower-cases and collapses whitespace, in Arrow compute kernels, once per
    unique value.
    """
    if isinstance(s, str) or is_missing(s):
        if is_missing(s):
            return None
        folded = normalise_name(pd.Series([s])).iloc[0]
        return None if is_missing(folded) else folded
    series = as_str(s)
    codes, uniques = pd.factorize(series)
    folded = _normalise_array(pa.array(uniques.astype(object), type=pa.string())).to_pandas()
    folded = pd.Series(folded, dtype=STR)
    folded = folded.where(folded != "")
    out = folded.take(codes.clip(min=0)).to_numpy(dtype=object, na_value=None)
    out[codes < 0] = None
    return pd.Series(out, index=series.index, dtype=STR)
