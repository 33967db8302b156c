"""The data contract v1, as data.

Every table, column, type and enumeration of ``docs/data_contract.md`` is written
down here once; the reader, the data-quality checks and the simulator all take
it from this module, so they cannot drift apart.

A column marked ``required=True`` must be present in the file (its cells may
still be empty where ``nullable``); a column the contract marks with ``?`` may
be missing from the file altogether, in which case it is read as all-unknown
and the data-quality report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal[
    "id", "person_id", "owner_id", "str", "enum", "timestamp", "date", "int", "float", "ip", "cidrs"
]

#: local time of the contract (Vietnam has no daylight saving time)
LOCAL_TZ = "Asia/Ho_Chi_Minh"
LOCAL_OFFSET = "+07:00"

CHANNELS = ("online", "counter", "postal")
DECLARED_RELATIONS = (
    "self",
    "parent",
    "guardian",
    "spouse",
    "relative",
    "authorized",
    "legal_rep",
    "other",
)
ATTACHMENT_KINDS = ("digital", "photo", "scan", "none")
ACCOUNT_TYPES = ("citizen", "business")
UNIT_LEVELS = ("province", "commune")
STAFF_ROLES = ("one_stop_officer", "community_digital_team", "manager", "other")
SEXES = ("M", "F")
RELATION_KINDS = (
    "parent_of",
    "child_of",
    "spouse",
    "guardian_of",
    "ward_of",
    "sibling",
    "household",
)

PROXY_TYPES = ("self", "family", "authorized", "assisted", "identity_misuse", "officer_proxy")
LEGITIMATE_TYPES = ("self", "family", "authorized", "assisted")
MISUSE_TYPES = ("identity_misuse", "officer_proxy")


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    kind: ColumnKind
    required: bool = True  # must be present in the file
    nullable: bool = False  # empty cells allowed (unknown)
    values: tuple[str, ...] = ()  # allowed values for enums
    personal: bool = False  # personal data: mask in reports, never log


@dataclass(frozen=True)
class Table:
    """One table of the contract."""

    name: str
    required: bool
    columns: tuple[Column, ...]
    key: str | None = None  # unique key column, if the table has one
    disables: str = ""  # what an absent optional table stops us from checking
    disables_vi: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _opt(name: str, kind: ColumnKind, **kw: object) -> Column:
    """A column the contract marks with ``?``: may be absent, cells may be empty."""
    return Column(name, kind, required=False, nullable=True, **kw)  # type: ignore[arg-type]


DOSSIERS = Table(
    "dossiers",
    required=True,
    key="dossier_id",
    columns=(
        Column("dossier_id", "id"),
        Column("procedure_code", "str"),
        Column("unit_id", "id"),
        Column("channel", "enum", values=CHANNELS),
        Column("submitted_at", "timestamp"),
        _opt("synced_at", "timestamp"),
        _opt("account_id", "id"),
        _opt("owner_id", "owner_id", personal=True),
        _opt("owner_name", "str", personal=True),
        _opt("declared_relation", "enum", values=DECLARED_RELATIONS),
        _opt("authorization_id", "id"),
        _opt("contact_phone", "str", personal=True),
        _opt("contact_email", "str", personal=True),
        _opt("ip", "ip"),
        _opt("device_id", "id"),
        _opt("attachment_kind", "enum", values=ATTACHMENT_KINDS),
        _opt("payer_token", "id"),
        _opt("received_by", "id"),
        _opt("accepted_at", "timestamp"),
    ),
)

ACCOUNTS = Table(
    "accounts",
    required=True,
    key="account_id",
    columns=(
        Column("account_id", "id"),
        Column("holder_id", "owner_id", personal=True),
        Column("account_type", "enum", values=ACCOUNT_TYPES),
        _opt("verification_level", "int"),
        _opt("created_at", "timestamp"),
        _opt("created_ip", "ip"),
    ),
)

UNITS = Table(
    "units",
    required=False,
    key="unit_id",
    disables="unit levels, office networks and online targets: no office-network or target-pressure evidence",
    disables_vi="cấp, mạng nội bộ và chỉ tiêu trực tuyến của đơn vị: không xét được mạng văn phòng và áp lực chỉ tiêu",
    columns=(
        Column("unit_id", "id"),
        Column("name", "str"),
        Column("level", "enum", values=UNIT_LEVELS),
        _opt("parent_unit_id", "id"),
        _opt("office_networks", "cidrs"),
        _opt("online_target", "float"),
    ),
)

STAFF = Table(
    "staff",
    required=False,
    key="staff_id",
    disables="the staff registry: cannot tell officers' or community digital team members' accounts and devices apart",
    disables_vi="danh sách cán bộ: không nhận diện được tài khoản, thiết bị của cán bộ một cửa và tổ công nghệ số cộng đồng",
    columns=(
        Column("staff_id", "id"),
        Column("person_id", "person_id", personal=True),
        Column("unit_id", "id"),
        Column("role", "enum", values=STAFF_ROLES),
        _opt("active_from", "date"),
        _opt("active_to", "date"),
    ),
)

PEOPLE = Table(
    "people",
    required=False,
    key="person_id",
    disables="the population extract: cannot check ID digits against birth date and sex, households or deaths",
    disables_vi="dữ liệu dân cư: không đối chiếu được số định danh với ngày sinh, giới tính, hộ gia đình, khai tử",
    columns=(
        Column("person_id", "person_id", personal=True),
        Column("full_name", "str", personal=True),
        Column("birth_date", "date"),
        Column("sex", "enum", values=SEXES),
        Column("province_code", "str"),
        _opt("household_id", "id"),
        _opt("death_date", "date"),
    ),
)

RELATIONS = Table(
    "relations",
    required=False,
    disables="civil-status relations: family filings can only be recognised through households",
    disables_vi="quan hệ hộ tịch: chỉ nhận diện được nộp hộ người thân qua hộ gia đình",
    columns=(
        Column("person_id", "person_id", personal=True),
        Column("related_id", "person_id", personal=True),
        Column("relation", "enum", values=RELATION_KINDS),
    ),
)

AUTHORIZATIONS = Table(
    "authorizations",
    required=False,
    key="authorization_id",
    disables="registered mandates: filings by representatives cannot be confirmed as authorised",
    disables_vi="giấy ủy quyền: không xác nhận được việc nộp thay có ủy quyền",
    columns=(
        Column("authorization_id", "id"),
        Column("grantor_id", "owner_id", personal=True),
        Column("grantee_id", "owner_id", personal=True),
        _opt("procedure_code", "str"),
        Column("valid_from", "date"),
        _opt("valid_to", "date"),
    ),
)

BUSINESSES = Table(
    "businesses",
    required=False,
    key="business_id",
    disables="the business register: legal representatives filing for their business cannot be recognised",
    disables_vi="đăng ký doanh nghiệp: không nhận diện được người đại diện theo pháp luật",
    columns=(
        Column("business_id", "owner_id"),
        Column("name", "str"),
        Column("legal_rep_id", "person_id", personal=True),
        _opt("registered_at", "date"),
    ),
)

COUNTER_VISITS = Table(
    "counter_visits",
    required=False,
    key="visit_id",
    disables="desk visits: cannot tell whether the owner was at the one-stop desk that day",
    disables_vi="lượt đến quầy: không biết chủ hồ sơ có mặt tại bộ phận một cửa trong ngày hay không",
    columns=(
        Column("visit_id", "id"),
        Column("unit_id", "id"),
        _opt("person_id", "person_id", personal=True),
        Column("visited_at", "timestamp"),
    ),
)

LABELS = Table(
    "labels",
    required=True,
    key="dossier_id",
    columns=(
        Column("dossier_id", "id"),
        Column("proxy_type", "enum", values=PROXY_TYPES),
    ),
)

#: the tables of a data folder, in the order they are read and reported
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        DOSSIERS,
        ACCOUNTS,
        UNITS,
        STAFF,
        PEOPLE,
        RELATIONS,
        AUTHORIZATIONS,
        BUSINESSES,
        COUNTER_VISITS,
    )
}
REQUIRED_TABLES = tuple(n for n, t in TABLES.items() if t.required)
OPTIONAL_TABLES = tuple(n for n, t in TABLES.items() if not t.required)
