"""The pages' words: both languages complete, dates, numbers, months."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from features import NODE_TYPES
from features.compute import CATEGORIES
from features.contract import PROXY_TYPES
from service.cases.audit import ACTIONS
from service.cases.models import CASE_STATUSES, DECISION_TYPES, USER_ROLES
from service.web import explain, i18n

TEMPLATES = Path(i18n.__file__).with_name("templates")


def test_every_template_key_exists_in_both_languages() -> None:
    # a literal key used by a template (_("key")) must translate in both languages
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(
            re.findall(r"""_\(["']([a-z_]+)["']\s*[,)]""", path.read_text(encoding="utf-8"))
        )
    assert len(used) > 50
    for lang in i18n.LANGS:
        for key in sorted(used):
            assert i18n.translate(
                lang,
                key,
                id=1,
                total=1,
                n=1,
                page=1,
                pages=1,
                field="f",
                message="m",
                role="r",
                unit="u",
                nodes=1,
                edges=1,
                type="t",
                share="s",
                score="0,5",
                misuse="m",
                month="10/2025",
                dossier="H1",
                applied=1,
                exceptions=1,
                chance="1%",
            )


def test_unknown_key_fails_loudly() -> None:
    with pytest.raises(KeyError):
        i18n.translate("vi", "no_such_key")


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("role", USER_ROLES),
        ("proxy_type", PROXY_TYPES),
        ("status", CASE_STATUSES),
        ("decision", tuple(DECISION_TYPES)),
        ("node", NODE_TYPES),
        ("action", ACTIONS),
    ],
)
def test_every_code_has_words_in_both_languages(kind: str, codes: tuple[str, ...]) -> None:
    for code in codes:
        vi, en = i18n.label("vi", kind, code), i18n.label("en", kind, code)
        assert vi != code and en != code, f"{kind} {code!r} has no words"
    # Vietnamese is written with its diacritics, not as ASCII
    assert any(not ch.isascii() for code in codes for ch in i18n.label("vi", kind, code))


def test_vietnamese_strings_carry_diacritics() -> None:
    assert i18n.translate("vi", "queue_title") == "Hàng đợi hồ sơ cần kiểm tra"
    assert i18n.translate("vi", "case_not_found", id=123) == "Không tìm thấy hồ sơ #123."
    assert i18n.translate("en", "case_not_found", id=123) == "Case #123 was not found."


def test_unknown_code_is_shown_as_it_is() -> None:
    # data can carry a code newer than the pages: shown raw rather than hidden
    assert i18n.label("vi", "gap", "brand_new_gap") == "brand_new_gap"
    assert i18n.label("en", "status", None) == "—"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", "03/10/2025"), ("en", "2025-10-03")],
)
def test_dates_follow_the_language_on_local_time(lang: str, expected: str) -> None:
    # 2025-10-02 18:30 UTC is already 3 October 01:30 in Vietnam (UTC+7)
    moment = datetime(2025, 10, 2, 18, 30, tzinfo=UTC)
    assert i18n.date(lang, moment) == expected
    assert i18n.date(lang, moment.isoformat()) == expected
    assert i18n.datetime_text(lang, moment).endswith("01:30")


def test_naive_store_times_are_utc() -> None:
    # SQLite hands stored UTC times back without an offset
    assert i18n.datetime_text("vi", datetime(2025, 10, 2, 18, 30)) == "03/10/2025 01:30"


def test_numbers_percent_and_months() -> None:
    assert i18n.number("vi", 19955) == "19.955"
    assert i18n.number("en", 19955) == "19,955"
    assert i18n.number("vi", 0.875, 2) == "0,88"
    assert i18n.percent("vi", 0.862) == "86,2%"
    assert i18n.percent("en", 0.862) == "86.2%"
    assert i18n.month("vi", "2025-10") == "10/2025"
    assert i18n.month("en", "2025-10") == "2025-10"
    assert i18n.date("vi", None) == "—"


def test_feature_names_and_values_come_from_the_definitions() -> None:
    assert i18n.feature_name("vi", "holder_relation") != "holder_relation"
    assert i18n.feature_value("vi", "holder_relation", "none_known") == (
        "không có quan hệ nào được ghi nhận"
    )
    assert i18n.feature_value("en", "holder_relation", "none_known") == "no recorded link"
    assert i18n.feature_value("vi", "acct_owners", 48) == "48"
    # shares read as percentages, never a bare fraction
    assert i18n.feature_value("vi", "dev_self_share", 0.25) == "25,0%"
    assert i18n.feature_value("en", "acct_owners", None) == "—"


@pytest.mark.parametrize("feature", sorted(CATEGORIES))
def test_every_category_value_reads_in_words_in_vietnamese(feature: str) -> None:
    # "quan hệ tự khai: self", "Loại tài khoản: citizen": a code must never reach Vietnamese text
    for value in CATEGORIES[feature]:
        text = i18n.feature_value("vi", feature, value)
        assert text != value and "_" not in text, (feature, value, text)


def test_distance_to_target_reads_in_percentage_points_with_its_direction() -> None:
    # 0.115 was shown as a bare "0,115": 11.5 points below the target, in words
    assert i18n.feature_value("vi", "unit_target_gap", 0.115) == (
        "thấp hơn chỉ tiêu 11,5 điểm phần trăm"
    )
    assert i18n.feature_value("en", "unit_target_gap", -0.03) == (
        "3.0 percentage points above target"
    )
    assert i18n.feature_value("vi", "unit_target_gap", 0.0) == "đúng chỉ tiêu"


def test_the_two_owner_counts_say_what_they_count() -> None:
    # the reason counts owners before this dossier, the graph every dossier up to scoring:
    # 121 and 169 for one account are both right once each says which it is
    assert "trước hồ sơ này" in i18n.feature_name("vi", "acct_owners")
    assert "kể cả hồ sơ này" in i18n.label("vi", "attr", "owner_count")
    assert "before this dossier" in i18n.feature_name("en", "acct_owners")


@pytest.mark.parametrize(
    ("predicted", "probabilities", "doubt", "likeliest"),
    [
        # the inspector's case: "identity misuse" predicted, family at 89.8 %
        ("identity_misuse", {"family": 0.898, "identity_misuse": 0.061}, True, "family"),
        ("identity_misuse", {"identity_misuse": 0.7, "family": 0.3}, False, "identity_misuse"),
        # two misuse types: the predicted one is shown, not doubted
        ("officer_proxy", {"identity_misuse": 0.5, "officer_proxy": 0.4}, False, "identity_misuse"),
        ("identity_misuse", {}, False, "identity_misuse"),
    ],
)
def test_the_badge_never_calls_a_likely_legitimate_filing_misuse(
    predicted: str, probabilities: dict[str, float], doubt: bool, likeliest: str
) -> None:
    badge = explain.type_badge(predicted, probabilities)
    assert (badge.doubt, badge.likeliest) == (doubt, likeliest)


def test_a_model_reason_is_written_from_its_evidence_once() -> None:
    stored = [
        {
            "code": "M.declared_relation",
            "vi": "quan hệ tự khai: self (thường gặp: self)",
            "evidence": {"declared_relation": "self", "typical": "parent"},
        }
    ]
    (line,) = explain.reason_lines(stored, "vi")
    assert line.text == "quan hệ tự khai: bản thân (tự nộp) (thường gặp: cha/mẹ)"
    assert line.evidence == ()  # not repeated below itself


def test_audit_details_read_in_words() -> None:
    wanted = {"proxy_type": "officer_proxy", "status": "open", "sort": "-risk_score", "page": None}
    assert i18n.detail_value("vi", "filter", wanted) == (
        "loại: Cán bộ nộp thay, sắp xếp: Điểm rủi ro (giảm dần), trạng thái: Chưa xử lý"
    )
    assert i18n.detail_value("vi", "source", "batch") == "Chấm điểm theo lô"
    assert i18n.detail_value("vi", "throttled", True) == "có"
    assert i18n.detail_value("en", "role", "reviewer") == "Reviewer"
