"""Citizen IDs (CCCD), tax codes (MST), name folding and masking."""

from __future__ import annotations

import pandas as pd
import pytest
from stdnum.vn import mst

from features.ids import (
    PROVINCE_NAMES,
    VALID_PROVINCE_CODES,
    cccd_century_sex_digit,
    check_business_id,
    check_person_id,
    classify_owner_id,
    mask_value,
    normalise_business_id,
    normalise_owner_id,
    normalise_person_id,
)
from features.names import normalise_name


def test_province_codes_are_the_63_provinces() -> None:
    # 63 provinces before the 2025 merger; codes run 001..096 with gaps
    assert len(VALID_PROVINCE_CODES) == 63
    assert {"001", "079", "048", "096"} <= VALID_PROVINCE_CODES
    assert "003" not in VALID_PROVINCE_CODES  # a gap in the numbering
    assert "099" not in VALID_PROVINCE_CODES
    assert PROVINCE_NAMES["079"] == "TP. Hồ Chí Minh"


@pytest.mark.parametrize(
    ("pid", "birth", "sex", "expected"),
    [
        # born 1995 in HCMC (079), male -> digit 4 = 0, digits 5-6 = 95: consistent
        ("079095012345", "1995-04-12", "M", None),
        # same person but digit 4 = 1 says "female born 1900s": contradicts sex M
        ("079195012345", "1995-04-12", "M", "century_sex_mismatch"),
        # born 2000s: male 2, female 3 ("079305..." = female born 2005)
        ("079305000003", "2005-06-01", "F", None),
        ("079205000003", "2005-06-01", "M", None),
        # a 2005 birth with a 1900s digit (1 = female 1900s) contradicts the century
        ("079105000003", "2005-06-01", "F", "century_sex_mismatch"),
        # digits 5-6 (94) disagree with the recorded 1995
        ("079094012345", "1995-04-12", "M", "birth_year_mismatch"),
        # 099 is not a province code
        ("099095012345", "1995-04-12", "M", "unknown_province"),
        # digit 4 = 7 is outside 0-3
        ("079795012345", None, None, "bad_century_digit"),
        # 11 digits: not a CCCD as written (repair is normalise_person_id's job)
        ("79095012345", None, None, "not_12_digits"),
        ("07909501234X", None, None, "not_12_digits"),
    ],
)
def test_check_person_id(
    pid: str, birth: str | None, sex: str | None, expected: str | None
) -> None:
    result = check_person_id(
        pd.Series([pid]), pd.Series([birth], dtype=object), pd.Series([sex], dtype=object)
    )
    assert (None if pd.isna(result.iloc[0]) else result.iloc[0]) == expected


def test_check_person_id_without_people_record_checks_only_the_shape() -> None:
    # digit 4 = 1 (female) is fine when the sex is unknown; NA stays NA
    result = check_person_id(pd.Series(["079195012345", None, "12345"]))
    assert result.isna().tolist() == [True, True, False]
    assert result.iloc[2] == "not_12_digits"


def test_check_person_id_ignores_separators() -> None:
    # people type "079.095.012345" or "079 095 012345": still the same 12 digits
    result = check_person_id(pd.Series(["079.095.012345", "079 095 012345"]))
    assert result.isna().all()


def test_normalise_person_id_restores_lost_leading_zero() -> None:
    ids, repaired = normalise_person_id(
        pd.Series(["79095012345", " 079-095-012345 ", "1088000004", "99095012345", "12345", None])
    )
    # 11 digits -> "0" + value starts with 079 (HCMC): repaired
    assert ids.iloc[0] == "079095012345" and repaired.iloc[0]
    # separators are dropped but nothing was lost
    assert ids.iloc[1] == "079095012345" and not repaired.iloc[1]
    # 10 digits (Excel dropped both zeros of Hà Nội's 001): repaired to 001...
    assert ids.iloc[2] == "001088000004" and repaired.iloc[2]
    # "0" + "99..." gives province 099, which does not exist: left alone
    assert ids.iloc[3] == "99095012345" and not repaired.iloc[3]
    assert ids.iloc[4] == "12345" and not repaired.iloc[4]
    assert pd.isna(ids.iloc[5]) and not repaired.iloc[5]


@pytest.mark.parametrize(
    ("year", "sex", "digit"), [(1995, "M", 0), (1995, "F", 1), (2005, "M", 2), (2005, "F", 3),
                               (1900, "F", 1), (2099, "M", 2)],
)  # fmt: skip
def test_cccd_century_sex_digit(year: int, sex: str, digit: int) -> None:
    assert cccd_century_sex_digit(year, sex) == digit


def test_cccd_century_sex_digit_vectorised_and_errors() -> None:
    digits = cccd_century_sex_digit(pd.Series([1995, 2001, 1850]), pd.Series(["M", "F", "M"]))
    assert digits.iloc[:2].tolist() == [0, 3]
    assert pd.isna(digits.iloc[2])  # 1850 has no CCCD century digit
    with pytest.raises(ValueError, match="1900-2099"):
        cccd_century_sex_digit(1899, "M")
    with pytest.raises(ValueError, match="'M' or 'F'"):
        cccd_century_sex_digit(1990, "X")


def test_generated_ids_pass_the_check() -> None:
    # what the simulator does: province + digit + yy + serial must check clean
    pid = f"048{cccd_century_sex_digit(2010, 'F')}10123456"
    assert pid == "048310123456"
    result = check_person_id(pd.Series([pid]), pd.Series(["2010-01-01"]), pd.Series(["F"]))
    assert result.isna().all()


def test_real_tax_codes_are_valid_per_stdnum() -> None:
    # published examples in python-stdnum's docs; the reader must agree with stdnum
    for code in ("0100233488", "0314409058-002", "0314409058"):
        assert mst.is_valid(code)
    assert (
        check_business_id(pd.Series(["0100233488", "0314409058-002", "0314409058002"])).isna().all()
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0100233480", "bad_check_digit"),  # stdnum's own invalid-checksum example
        ("0100233489", "bad_check_digit"),  # last digit changed
        ("12345", "not_10_or_13_digits"),
        ("0100233488-000", "bad_component"),  # branch 000 does not exist
        ("01A0233488", "not_10_or_13_digits"),
    ],
)
def test_check_business_id_problems(value: str, problem: str) -> None:
    assert check_business_id(pd.Series([value])).iloc[0] == problem


def test_normalise_business_id_uses_dash_form_for_branches() -> None:
    ids = normalise_business_id(pd.Series(["0100233488001", "0100233488-001", "01.00.233.488"]))
    assert ids.tolist() == ["0100233488-001", "0100233488-001", "0100233488"]


def test_classify_owner_id() -> None:
    kinds = classify_owner_id(
        pd.Series(["079095012345", "79095012345", "0100233488", "0314409058-002",
                   "0314409058002", "ABC", "", None])
    )  # fmt: skip
    assert kinds.iloc[:6].tolist() == [
        "person",
        "person",
        "business",
        "business",
        "business",
        "malformed",
    ]
    assert kinds.iloc[6:].isna().all()  # empty and missing are unknown, not malformed


def test_normalise_owner_id_prefers_a_valid_tax_code_over_a_repair() -> None:
    # "0100233488" is a valid MST: kept; "1088000004" is not a valid MST but is Hà Nội's
    # 001088000004 with both zeros lost: repaired as a citizen ID
    ids, repaired = normalise_owner_id(pd.Series(["0100233488", "1088000004", "0100233488001"]))
    assert ids.tolist() == ["0100233488", "001088000004", "0100233488-001"]
    assert repaired.tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("NGUYỄN  Văn   An", "nguyen van an"),
        ("Đặng Thị Hường", "DANG THI HUONG"),
        ("  trần\u00a0đức  ", "Tran Duc"),  # no-break space and đ
        ("Nguyễn Văn An", "Nguyễn Văn An"),  # precomposed vs itself
    ],
)
def test_normalise_name_equal(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


def test_normalise_name_keeps_different_names_apart() -> None:
    names = normalise_name(
        pd.Series(["Nguyễn Văn An", "Nguyễn Văn Ân", "Nguyễn Văn Anh", " ", None])
    )
    # An and Ân fold together (diacritics ignored on purpose) but Anh stays different
    assert names.iloc[0] == names.iloc[1] == "nguyen van an"
    assert names.iloc[2] == "nguyen van anh"
    assert names.iloc[3:].isna().all()


def test_normalise_name_decomposed_input() -> None:
    # the same name typed with combining marks (NFD) folds to the same value
    import unicodedata

    assert normalise_name(unicodedata.normalize("NFD", "Lê Hoàng Cường")) == "le hoang cuong"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("079095012345", "**********45"),
        ("Nguyễn Văn An", "***********An"),
        ("0903123456", "********56"),
        ("An", "**"),  # short values fully masked
        ("1234567", "*******"),
        (None, None),
    ],
)
def test_mask_value(value: str | None, masked: str | None) -> None:
    assert mask_value(value) == masked
