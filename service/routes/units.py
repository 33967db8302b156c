"""``/v1/units``: the units with cases, and the dashboards (a unit's, or the province's).

A dashboard compares the online share a unit claims with the share the
detector estimates genuine, month by month, and lists suspected officer
proxies by accepting officer. Every role may read them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from service.cases.queue import CaseError, unit_dashboard, units
from service.deps import CasesDep, Reader, case_error
from service.review_schemas import DashboardOut, UnitOut
from service.schemas import ErrorOut

router = APIRouter(prefix="/v1/units", tags=["units"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not logged in"},
}


@router.get(
    "",
    response_model=list[UnitOut],
    summary="Units with cases or dashboard figures, with their case counts",
    responses=_ERRORS,
)
def list_units(who: Reader, store: CasesDep) -> list[dict[str, Any]]:
    """Sorted by unit id."""
    with store.session() as s:
        return units(s)


@router.get(
    "/dashboard",
    response_model=DashboardOut,
    summary="The province's dashboard (all units together)",
    responses=_ERRORS,
)
def province_dashboard(who: Reader, store: CasesDep) -> dict[str, Any]:
    """Months summed over units (shares weighted by dossiers); the officers with most suspicion."""
    with store.session() as s:
        return unit_dashboard(s, None)


@router.get(
    "/{unit_id}/dashboard",
    response_model=DashboardOut,
    summary="One unit's dashboard",
    responses={**_ERRORS, 404: {"model": ErrorOut, "description": "no such unit"}},
)
def dashboard(
    who: Reader, unit_id: Annotated[str, Path(min_length=1, max_length=64)], store: CasesDep
) -> dict[str, Any]:
    """Claimed vs estimated genuine online share by month; every officer-month of the unit."""
    with store.session() as s:
        try:
            return unit_dashboard(s, unit_id)
        except CaseError as exc:
            raise case_error(exc, "path") from exc
