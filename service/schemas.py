"""Request and response bodies of the API (pydantic), with their bounds.

A request is refused (422) only when it cannot be scored at all: not a JSON
object, a field of the wrong JSON type, a value far too long, or one of the
four fields the contract requires for scoring missing or unusable
(``dossier_id``, ``unit_id``, ``channel``, ``submitted_at``). Anything merely
dirty (a malformed citizen ID, an unknown account, a timestamp without its
offset) is scored, and the answer lists it under ``data_gaps`` and
``input_findings``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

_ID = Field(default=None, max_length=128)
_TEXT = Field(default=None, max_length=512)
_TS_TEXT = "ISO 8601 with offset, e.g. 2025-03-14T08:12:45+07:00"
_TS = Field(default=None, max_length=64, description=_TS_TEXT)


class DossierIn(BaseModel):
    """One dossier as the data contract's ``dossiers`` table describes it (extra keys are ignored)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    dossier_id: str = Field(min_length=1, max_length=128)
    unit_id: str = Field(min_length=1, max_length=128)
    channel: str = Field(min_length=1, max_length=32, description="online, counter or postal")
    submitted_at: str = Field(min_length=1, max_length=64, description=_TS_TEXT)
    procedure_code: str | None = _ID
    synced_at: str | None = _TS
    account_id: str | None = _ID
    owner_id: str | None = _ID
    owner_name: str | None = _TEXT
    declared_relation: str | None = Field(default=None, max_length=32)
    authorization_id: str | None = _ID
    contact_phone: str | None = Field(default=None, max_length=64)
    contact_email: str | None = Field(default=None, max_length=320)
    ip: str | None = Field(default=None, max_length=64)
    device_id: str | None = Field(default=None, max_length=256)
    attachment_kind: str | None = Field(default=None, max_length=32)
    payer_token: str | None = Field(default=None, max_length=256)
    received_by: str | None = _ID
    accepted_at: str | None = _TS

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_as_text(cls, v: Any) -> Any:
        """IDs sent as JSON numbers are read as text (the reader repairs lost leading zeros)."""
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return v


class Reason(BaseModel):
    """Why a dossier was flagged: a rule or a model feature, in both languages, with its evidence."""

    code: str = Field(description="rule id (R…) or M.<feature> for the model's strongest features")
    vi: str
    en: str
    evidence: dict[str, Any] = Field(description="the feature values behind the reason")


class Finding(BaseModel):
    """A value in the request that had to be cleaned or was unusable (a data-quality code)."""

    code: str
    column: str | None = None
    count: int = 1


class ScoreOut(BaseModel):
    """The answer for one dossier. ``status: unscored`` means: proceed, no score this time."""

    dossier_id: str
    status: Literal["scored", "unscored"]
    risk_score: float | None = Field(default=None, ge=0, le=1)
    proxy_type: str | None = None
    flagged: bool | None = None
    threshold: float | None = Field(
        default=None,
        description="the threshold this dossier was judged by: the detector's, or a higher one "
        "for owners aged 70 or more and children under 14 (their own group's)",
    )
    probabilities: dict[str, float] = Field(default_factory=dict)
    reasons: list[Reason] = Field(default_factory=list)
    data_gaps: list[str] = Field(
        default_factory=list,
        description="what the data could not tell; listed apart and never raises the score",
    )
    input_findings: list[Finding] = Field(default_factory=list)
    model_version: str | None = None
    repeat: bool = Field(default=False, description="the dossier was sent before: same answer")
    reason: str | None = Field(default=None, description="why it is unscored")


class FieldError(BaseModel):
    """One problem with one field of one dossier."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A refused request (422): one entry per unusable field."""

    detail: list[FieldError]


class BatchItemOut(BaseModel):
    """One dossier of a batch: its answer, or why it could not be scored (``invalid``)."""

    index: int
    status: Literal["scored", "unscored", "invalid"]
    answer: ScoreOut | None = None
    errors: list[FieldError] = Field(default_factory=list)


class BatchIn(BaseModel):
    """Up to 1,000 dossiers, answered in order; an unusable one does not stop the others."""

    dossiers: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class BatchOut(BaseModel):
    results: list[BatchItemOut]


class Health(BaseModel):
    status: Literal["ok"]


class ReloadIn(BaseModel):
    """What to reload: always the data folder's reference tables and history; the model if asked.

    The model is read again from the folder the service was started with (put
    the new model there first): a request cannot point the service at another
    path, since loading a model file runs code.
    """

    model_config = ConfigDict(extra="forbid")

    #: true or false only: ``"yes"`` or ``1`` are refused, not guessed at
    model: StrictBool = False


class ReloadOut(BaseModel):
    status: Literal["reloaded"]
    model_version: str
    history_dossiers: int
    live_dossiers: int
    seconds: float


class ErrorOut(BaseModel):
    """Any refusal (401, 403, 413, 503): what was expected and what was found."""

    detail: str
