"""How the account's holder relates to the dossier's owner (read from the holder links).

The links themselves — who holds the account, their records towards the
owner, and the summary ``holder_relation`` — are the inputs of this family:
:func:`features.links.holder_links` for a frame, ``ReferenceIndex._links`` for
one dossier (see :mod:`features.links` for the rules, including
:func:`features.links.kin_plausible`). Each feature here is one link column.
"""

from __future__ import annotations

from typing import Any

from features.contract import STAFF_ROLES
from features.defs._kit import Feature, flag, flags
from features.links import HOLDER_RELATIONS

MANDATE_STATUSES = ("valid", "other_procedure", "expired", "not_yet_valid", "none", "unknown")
CLAIM_STATUSES = (
    "none",
    "valid",
    "unknown_id",
    "wrong_parties",
    "expired",
    "not_yet_valid",
    "other_procedure",
    "unknown",
)
RELATION_KINDS = ("parent", "child", "spouse", "guardian", "ward", "sibling", "household")


def _link(name: str, vi: str, en: str, kind: str = "number", **more: Any) -> Feature:
    """A feature that is the holder links' column ``name`` (booleans as flags)."""
    if kind == "flag":
        return Feature(
            name, vi, en, kind=kind,
            frame=lambda b: flags(b.links[name]),
            row=lambda r: flag(getattr(r.links, name)),
            **more,
        )  # fmt: skip
    return Feature(
        name, vi, en, kind=kind,
        frame=lambda b: b.links[name],
        row=lambda r: getattr(r.links, name),
        **more,
    )  # fmt: skip


FEATURES: tuple[Feature, ...] = (
    _link(
        "holder_relation",
        "quan hệ giữa chủ tài khoản và chủ hồ sơ",
        "how the account holder relates to the owner",
        "category",
        categories=HOLDER_RELATIONS,
        gap="relation_unknown",
        # a missing record may hide a relative, not make the holder the owner
        innocent=("unknown", "relative"),
        value_text={
            "not_applicable": ("không nộp qua tài khoản", "not filed through an account"),
            "self": ("chính chủ hồ sơ", "the owner"),
            "legal_rep": ("người đại diện theo pháp luật", "the legal representative"),
            "mandate": ("người được ủy quyền hợp lệ", "a valid mandate holder"),
            "household": ("cùng hộ gia đình", "a household member"),
            "relative": ("người thân", "a relative"),
            "community_team": (
                "thành viên tổ công nghệ số cộng đồng",
                "a community digital team member",
            ),
            "staff_same_unit": ("cán bộ của đơn vị tiếp nhận", "an officer of the receiving unit"),
            "staff_other_unit": ("cán bộ đơn vị khác", "an officer of another unit"),
            "none_known": ("không có quan hệ nào được ghi nhận", "no recorded link"),
            "unknown": ("chưa rõ (thiếu dữ liệu)", "unknown (data missing)"),
        },
    ),
    _link(
        "relation_kind",
        "quan hệ hộ tịch ghi nhận",
        "recorded civil-status relation",
        "category",
        categories=RELATION_KINDS,
        value_text={
            "parent": ("cha/mẹ", "parent"),
            "child": ("con", "child"),
            "spouse": ("vợ/chồng", "spouse"),
            "guardian": ("người giám hộ", "guardian"),
            "ward": ("người được giám hộ", "ward"),
            "sibling": ("anh/chị/em", "sibling"),
            "household": ("cùng hộ", "same household"),
        },
    ),
    _link("is_self", "chủ tài khoản là chủ hồ sơ", "the account holder is the owner", "flag"),
    _link("same_household", "cùng hộ gia đình", "same household", "flag", innocent=(None, 1.0)),
    _link(
        "related_2",
        "có họ hàng qua một người trung gian",
        "related through one other person",
        "flag",
    ),
    _link(
        "mandate_status",
        "ủy quyền giữa chủ hồ sơ và chủ tài khoản",
        "mandate from the owner to the holder",
        "category",
        categories=MANDATE_STATUSES,
        innocent=("unknown", "valid"),
        value_text={
            "valid": ("có ủy quyền hợp lệ", "a valid mandate"),
            "other_procedure": ("ủy quyền cho thủ tục khác", "a mandate for another procedure"),
            "expired": ("ủy quyền đã hết hạn", "an expired mandate"),
            "not_yet_valid": ("ủy quyền chưa có hiệu lực", "a mandate not yet valid"),
            "none": ("không có ủy quyền", "no mandate"),
            "unknown": ("chưa rõ (thiếu sổ ủy quyền)", "unknown (no mandate register)"),
        },
    ),
    _link(
        "claim_status",
        "giấy ủy quyền kê khai trên hồ sơ",
        "mandate claimed on the dossier",
        "category",
        categories=CLAIM_STATUSES,
        innocent=("unknown", "valid"),
        value_text={
            "none": ("không kê khai", "none claimed"),
            "valid": ("hợp lệ", "valid"),
            "unknown_id": ("không có trong sổ ủy quyền", "not in the mandate register"),
            "wrong_parties": ("không đúng người", "names other people"),
            "expired": ("đã hết hạn", "expired"),
            "not_yet_valid": ("chưa có hiệu lực", "not yet valid"),
            "other_procedure": ("cho thủ tục khác", "for another procedure"),
            "unknown": ("chưa rõ", "unknown"),
        },
    ),
    _link(
        "legal_rep",
        "người đại diện theo pháp luật của doanh nghiệp",
        "legal representative of the owning business",
        "flag",
    ),
    _link(
        "holder_staff_role",
        "chủ tài khoản là cán bộ (vai trò)",
        "the holder's staff role",
        "category",
        categories=(*STAFF_ROLES, "none"),
        value_text={
            "one_stop_officer": ("cán bộ một cửa", "one-stop officer"),
            "community_digital_team": ("tổ công nghệ số cộng đồng", "community digital team"),
            "manager": ("cán bộ quản lý", "manager"),
            "other": ("cán bộ khác", "other staff"),
            "none": ("không phải cán bộ", "not staff"),
        },
    ),
    _link(
        "holder_staff_same_unit",
        "chủ tài khoản là cán bộ của đơn vị tiếp nhận",
        "the holder works at the receiving unit",
        "flag",
    ),
    _link(
        "owner_in_people",
        "chủ hồ sơ có trong dữ liệu dân cư",
        "the owner is in the population extract",
        "flag",
        gap="owner_not_in_population_extract",
    ),
    _link(
        "holder_in_people",
        "chủ tài khoản có trong dữ liệu dân cư",
        "the holder is in the population extract",
        "flag",
        gap="holder_not_in_population_extract",
    ),
    _link(
        "owner_deceased",
        "chủ hồ sơ đã chết trước ngày nộp",
        "the owner died before the filing",
        "flag",
        innocent=(None, 0.0),
    ),
    _link(
        "days_since_owner_death", "số ngày từ khi chủ hồ sơ chết", "days since the owner's death"
    ),
    _link("owner_age", "tuổi chủ hồ sơ", "owner's age"),
    _link("holder_age", "tuổi chủ tài khoản", "holder's age"),
)
