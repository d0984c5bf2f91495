"""Bulk enrollments: a list of contacts, a list's members or a segment's
matches put into an automation, with progress, pause, resume and cancel."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict, not_found
from api.paging import PAGED, PageDep, linked
from shared.domain.bulk import BulkView, Matched, Selection, Started
from shared.domain.ids import ID_PATTERN
from shared.services import bulk

router = APIRouter(tags=["bulk enrollments"])

AutomationId = Annotated[str, Path(pattern=ID_PATTERN)]
BulkId = Annotated[str, Path(pattern=ID_PATTERN)]
UNKNOWN = not_found("bulk enrollment")
ENDED = conflict("The bulk enrollment has ended (completed, cancelled or failed)")


@router.post(
    "/automations/{automation_id}/bulk-enrollments",
    status_code=status.HTTP_202_ACCEPTED,
    **guarded(
        "admin",
        {
            200: {"model": Matched, "description": "`dry_run`: how many contacts it would read"},
            **BODY,
            **not_found("automation, or no list with that id"),
            **conflict("The automation is archived"),
        },
    ),
)
async def create_bulk_enrollment(
    automation_id: AutomationId,
    body: Selection,
    services: ServicesDep,
    response: Response,
    dry_run: Annotated[bool, Query(description="Count the contacts, enroll nobody")] = False,
) -> Started | Matched:
    """Put `contact_ids`, a `list`'s members or a `segment`'s matches into the
    automation's current version, at most `rate` contacts a second. Every entry
    rule holds: a contact that may not enter is counted as skipped, with the
    reason. `?dry_run=true` answers 200 with `matched` and enrolls nobody."""
    result = await bulk.create(services, automation_id, body, dry_run)
    if isinstance(result, Matched):
        response.status_code = status.HTTP_200_OK
    return result


@router.get(
    "/automations/{automation_id}/bulk-enrollments", **guarded("read", {**PAGED, **not_found("automation")})
)
async def list_bulk_enrollments(
    automation_id: AutomationId, services: ServicesDep, page: PageDep, request: Request, response: Response
) -> list[BulkView]:
    """The automation's bulk enrollments, oldest first."""
    return linked(await bulk.of_automation(services, automation_id, page), request, response)


@router.get("/bulk-enrollments/{bulk_id}", **guarded("read", UNKNOWN))
async def get_bulk_enrollment(bulk_id: BulkId, services: ServicesDep) -> BulkView:
    """Where it stands: `matched` counts contacts as their page is read, and is
    final when it ends; `enrolled + skipped + failed = matched` then."""
    return await bulk.get(services, bulk_id)


@router.post("/bulk-enrollments/{bulk_id}/pause", **guarded("admin", {**UNKNOWN, **ENDED}))
async def pause_bulk_enrollment(bulk_id: BulkId, services: ServicesDep) -> BulkView:
    """Stop after the page in hand (up to 200 contacts); pausing a paused one changes nothing."""
    return await bulk.pause(services, bulk_id)


@router.post("/bulk-enrollments/{bulk_id}/resume", **guarded("admin", {**UNKNOWN, **ENDED}))
async def resume_bulk_enrollment(bulk_id: BulkId, services: ServicesDep) -> BulkView:
    """Go on from where it paused; resuming a running one changes nothing."""
    return await bulk.resume(services, bulk_id)


@router.delete("/bulk-enrollments/{bulk_id}", **guarded("admin", {**UNKNOWN, **ENDED}))
async def cancel_bulk_enrollment(bulk_id: BulkId, services: ServicesDep) -> BulkView:
    """Cancel it after the page in hand; the contacts it enrolled stay enrolled.
    Cancelling a cancelled one changes nothing."""
    return await bulk.cancel(services, bulk_id)
