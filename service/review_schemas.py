"""Request and response bodies of the review API (the workbench's JSON side), with their bounds.

The shapes follow :mod:`service.cases.queue`, which builds the answers as
plain dicts; these models document them in the OpenAPI schema and hold the
answers to them. Personal dossier fields arrive here already masked unless
the reader asked for them and may see them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.schemas import Reason

Role = Literal["viewer", "reviewer", "admin"]
Decision = Literal["misuse", "legitimate", "needs_info"]
Status = Literal["open", "needs_info", "misuse", "legitimate"]
_LOCAL_TIME = "ISO 8601 on the local clock, e.g. 2025-03-14T08:12:45+07:00"
ChosenBy = Literal["queue", "exploration"]
_CHOSEN_BY = (
    "queue: flagged by its risk; exploration: drawn at random below the threshold to teach "
    "the model (a verdict on it counts 1/propensity in training)"
)


# ----------------------------------------------------------------- session
class LoginIn(BaseModel):
    """A user's name and password (the password is never stored, logged or audited)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    """Who is logged in, and the CSRF token every state-changing request must echo."""

    username: str
    display_name: str
    role: Role
    csrf_token: str = Field(description="send it back in X-CSRF-Token (or a csrf_token field)")
    permissions: list[Literal["read", "write", "reveal", "admin"]] = Field(
        description="what the role may do: read, write (verdicts, assignments), reveal, admin"
    )


# ----------------------------------------------------------------- queue and cases
class QueueItemOut(BaseModel):
    """One case in the queue (no personal data)."""

    id: int
    dossier_id: str
    unit_id: str
    month: str = Field(description="YYYY-MM of the submission, local time")
    submitted_at: str | None = Field(default=None, description=_LOCAL_TIME)
    channel: str
    risk_score: float = Field(ge=0, le=1)
    proxy_type: str = Field(description="the predicted type")
    status: Status
    verdict_type: str | None = Field(default=None, description="the latest verdict's type")
    assignee: str | None = Field(default=None, description="username, or null when unassigned")
    reasons: list[str] = Field(description="reason codes, most important first")
    data_gaps: int = Field(ge=0, description="how many things the data could not tell")
    chosen_by: ChosenBy = Field(description=_CHOSEN_BY)


class QueuePageOut(BaseModel):
    """One page of the filtered, sorted queue."""

    total: int = Field(ge=0, description="cases matching the filter, over all pages")
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=200)
    items: list[QueueItemOut]


class RelatedOut(BaseModel):
    """Another dossier sharing the account, device, phone or payment token."""

    dossier_id: str
    via: str = Field(description="account, device, phone or payment")
    submitted_at: str | None = Field(default=None, description=_LOCAL_TIME)
    case_id: int | None = Field(default=None, description="its case, when it has one")


class EvidenceOut(BaseModel):
    """The evidence subgraph (pseudonymised nodes and edges) and the related dossiers."""

    graph: dict[str, Any] | None = Field(
        default=None, description="nodes and edges, personal nodes pseudonymised; null if none"
    )
    related: list[RelatedOut] = Field(default_factory=list)


class VerdictOut(BaseModel):
    """A recorded verdict."""

    id: int
    decision: Decision
    proxy_type: str | None = None
    note: str = ""
    username: str
    created_at: str = Field(description=_LOCAL_TIME)


class AssignmentOut(BaseModel):
    """A recorded assignment (``assignee`` null: the case was unassigned)."""

    assignee: str | None = None
    assigned_by: str
    created_at: str = Field(description=_LOCAL_TIME)


class ActorRefOut(BaseModel):
    """The actor case a dossier case is reviewed in (see ``/v1/actors/{id}``)."""

    id: int
    kind: Literal["account", "device", "phone", "payment_token", "officer", "unit_month", "dossier"]
    label: str = Field(description="the actor's value, masked")
    n_dossiers: int = Field(ge=0)
    status: Status


class CaseOut(BaseModel):
    """One case: what the scorer said, the dossier (masked), the evidence, the team's work."""

    id: int
    dossier_id: str
    unit_id: str
    month: str
    submitted_at: str | None = Field(default=None, description=_LOCAL_TIME)
    channel: str
    risk_score: float = Field(ge=0, le=1)
    proxy_type: str
    status: Status
    verdict_type: str | None = None
    assignee: str | None = None
    source: Literal["batch", "api"]
    scored_at: str = Field(description="review (batch, all facts) or submission (API)")
    model_version: str
    chosen_by: ChosenBy = Field(description=_CHOSEN_BY)
    propensity: float = Field(gt=0, le=1, description="the chance the case had of being chosen")
    actor: ActorRefOut | None = Field(
        default=None, description="its actor case; null for an exploration case"
    )
    reasons: list[Reason]
    data_gaps: list[str]
    probabilities: dict[str, float]
    dossier: dict[str, Any] = Field(
        description="the dossier's fields; personal ones masked unless revealed"
    )
    evidence: EvidenceOut
    verdicts: list[VerdictOut]
    assignments: list[AssignmentOut]


class VerdictIn(BaseModel):
    """A reviewer's decision on a case.

    ``misuse`` takes a type identity_misuse or officer_proxy; ``legitimate``
    takes self, family, authorized or assisted; ``needs_info`` takes none.
    """

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    proxy_type: str | None = Field(default=None, max_length=32)
    note: str = Field(default="", max_length=2000)


class AssignIn(BaseModel):
    """Who is to review a case: a username, or null to unassign it."""

    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(default=None, min_length=1, max_length=64)


# ----------------------------------------------------------------- cases by actor
ActorKind = Literal[
    "account", "device", "phone", "payment_token", "officer", "unit_month", "dossier"
]
_KIND = (
    "who the case is about: account, device, phone, payment_token, officer, unit_month "
    "(a unit in a month), or dossier (a flagged dossier no actor explains)"
)


class ActorItemOut(BaseModel):
    """One actor case in the actor queue (no personal value: the label is masked)."""

    id: int
    key: str = Field(description="<kind>:<pseudonym>, unit_month:<unit>:<YYYY-MM> or dossier:<id>")
    kind: ActorKind = Field(description=_KIND)
    label: str = Field(description="the actor's value, masked (a unit and month, a dossier id)")
    unit_id: str = Field(description="the unit most of its dossiers went to")
    n_dossiers: int = Field(ge=0)
    n_owners: int = Field(ge=0, description="distinct owners of its dossiers")
    n_months: int = Field(ge=0)
    n_units: int = Field(ge=0)
    n_open: int = Field(ge=0, description="dossiers without a verdict")
    expected_misuse: float = Field(ge=0, description="sum of the open dossiers' misuse probability")
    uncertainty: float = Field(ge=0, description="sum of p(1-p) over the open dossiers")
    priority: float = Field(
        ge=0, description="expected_misuse + 0.25 uncertainty: the queue's order, highest first"
    )
    max_risk: float = Field(ge=0, le=1)
    main_type: str = Field(description="the most frequent predicted type of its dossiers")
    status: Status = Field(description="open while a dossier has no verdict")
    verdict_type: str | None = None
    assignee: str | None = None


class ActorPageOut(BaseModel):
    """One page of actor cases, highest priority first."""

    total: int = Field(ge=0)
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=200)
    items: list[ActorItemOut]


class ActorDossierOut(BaseModel):
    """One dossier of an actor case: why it was flagged, where it stands, its own case."""

    case_id: int
    dossier_id: str
    unit_id: str
    month: str
    submitted_at: str | None = Field(default=None, description=_LOCAL_TIME)
    channel: str
    procedure_code: str
    risk_score: float = Field(ge=0, le=1)
    p_misuse: float = Field(ge=0, le=1)
    proxy_type: str
    status: Status
    verdict_type: str | None = None
    source: Literal["batch", "api"]
    reasons: list[Reason]
    data_gaps: list[str]
    probabilities: dict[str, float]


class ActorOut(ActorItemOut):
    """One actor case: the actor, its dossiers (riskiest first) and its evidence graph."""

    months: list[str]
    units: list[str]
    dossiers: list[ActorDossierOut]
    graph: dict[str, Any] | None = Field(
        default=None,
        description="union of the evidence graphs of its riskiest dossiers, pseudonymised",
    )
    graph_dossiers: int = Field(ge=0, description="how many dossiers' graphs the graph unites")


class ActorExceptionIn(BaseModel):
    """A dossier of the actor that gets its own decision instead of the actor's."""

    model_config = ConfigDict(extra="forbid")

    case_id: int = Field(ge=1, le=2**63 - 1)
    decision: Decision
    proxy_type: str | None = Field(default=None, max_length=32)


class ActorVerdictIn(VerdictIn):
    """A decision on an actor: applied to each of its open dossiers, exceptions apart."""

    exceptions: list[ActorExceptionIn] = Field(default_factory=list, max_length=5000)


class ActorVerdictItemOut(VerdictOut):
    """A verdict recorded on one dossier case of the actor."""

    case_id: int


class ActorVerdictOut(BaseModel):
    """What one actor verdict recorded: one verdict per dossier case."""

    actor_id: int
    decision: Decision
    proxy_type: str | None = None
    applied: int = Field(ge=0, description="open dossiers given the actor's decision")
    exceptions: int = Field(ge=0, description="dossiers given their own decision")
    verdicts: list[ActorVerdictItemOut]


class ActorAssignmentOut(BaseModel):
    """An actor case given to a reviewer (``assignee`` null: taken back), with its open dossiers."""

    actor_id: int
    assignee: str | None = None
    assigned_by: str
    cases: int = Field(ge=0, description="open dossier cases assigned with it")


# ----------------------------------------------------------------- units
class UnitOut(BaseModel):
    """A unit that has cases."""

    unit_id: str
    cases: int = Field(ge=0)
    open: int = Field(ge=0, description="cases without a verdict")


class UnitMonthOut(BaseModel):
    """One month of a unit (or of the province): claimed vs estimated genuine online share."""

    month: str
    dossiers: int = Field(ge=0)
    claimed_online_share: float | None = Field(description="null: no dossier figures that month")
    estimated_genuine_online_share: float | None
    suspected_officer_proxy: float
    flagged_officer_proxy: int = Field(ge=0)
    cases: int = Field(ge=0)
    confirmed_misuse: int = Field(ge=0)


class OfficerMonthOut(BaseModel):
    """Suspected officer proxies of one accepting officer in one month."""

    staff_id: str
    unit_id: str
    month: str
    dossiers_accepted: int = Field(ge=0)
    suspected_officer_proxy: float
    flagged_officer_proxy: int = Field(ge=0)


class DashboardOut(BaseModel):
    """A unit's dashboard (``unit_id`` null: the whole province)."""

    units: list[str]
    unit_id: str | None = None
    months: list[UnitMonthOut]
    officers: list[OfficerMonthOut]


# ----------------------------------------------------------------- audit
class AuditEntryOut(BaseModel):
    """Who did what, when and from where (``detail`` never holds a personal value)."""

    id: int
    at: str = Field(description=_LOCAL_TIME)
    username: str
    role: str
    action: str
    case_id: int | None = None
    detail: dict[str, Any]
    ip: str


class AuditPageOut(BaseModel):
    """Newest entries first; pass ``next_before_id`` as ``before_id`` for older ones."""

    items: list[AuditEntryOut]
    next_before_id: int | None = None


# ----------------------------------------------------------------- readiness
class ReadyOut(BaseModel):
    """Readiness: the scoring engine's state (when it runs) and the case store's."""

    status: Literal["ready", "loading"]
    scoring: bool = Field(description="false: workbench only (no --data/--model); /v1/score 503")
    model_version: str | None = None
    history_dossiers: int = 0
    live_dossiers: int = 0
    store: str | None = Field(default=None, description="live history store (memory or redis)")
    log: str | None = Field(default=None, description="database of the scoring log")
    cases: str = Field(description="database of the case store")
    worker: int = Field(description="process id of the worker that answered")
    reloads: int = Field(default=0, description="reloads this worker has done since it started")
