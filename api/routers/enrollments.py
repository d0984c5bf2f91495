from typing import Annotated

from fastapi import APIRouter, Path, status

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict, not_found
from api.schemas import EnrollIn
from shared.contracts import EnrollmentView
from shared.domain.ids import ID_PATTERN
from shared.services import enrollments
from shared.services.enrollments import Enrolled

router = APIRouter(tags=["enrollments"])

# `<automation>.<contact>.<n>`
EnrollmentId = Annotated[str, Path(pattern=rf"^{ID_PATTERN[1:-1]}\.{ID_PATTERN[1:-1]}\.[0-9]+$")]
UNKNOWN = not_found("enrollment")


@router.post(
    "/automations/{automation_id}/enrollments",
    status_code=status.HTTP_201_CREATED,
    **guarded(
        "admin",
        {
            **BODY,
            **not_found("automation, or no contact with that id"),
            **conflict(
                "The automation is archived or paused, or the contact is in it already, "
                "or was before and its reentry is `never`"
            ),
        },
    ),
)
async def enroll(
    automation_id: Annotated[str, Path(pattern=ID_PATTERN)], body: EnrollIn, services: ServicesDep
) -> Enrolled:
    """Enroll a contact in the automation's latest version. 409 when the
    automation is archived or paused, when the contact is already running
    there, or was enrolled before and re-entry is `never`."""
    return await enrollments.start(services, automation_id, body.contact_id)


@router.get("/enrollments/{enrollment_id}", **guarded("read", UNKNOWN))
async def get_enrollment(enrollment_id: EnrollmentId, services: ServicesDep) -> EnrollmentView:
    """A running enrollment's live state, or the state it saved when it ended."""
    return await enrollments.get(services, enrollment_id)


@router.delete("/enrollments/{enrollment_id}", **guarded("admin", UNKNOWN))
async def remove_enrollment(enrollment_id: EnrollmentId, services: ServicesDep) -> EnrollmentView:
    """Remove the contact from the automation at once (status `removed`)."""
    return await enrollments.remove(services, enrollment_id)
