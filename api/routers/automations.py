from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response, status

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, Responses, conflict, invalid, not_found
from api.paging import PAGED, PageDep, linked
from api.schemas import ResumeIn
from shared.domain.ids import ID_PATTERN
from shared.domain.limits import STRUCTURE_BYTES, TEMPLATE_BYTES, size
from shared.services import automations, pauses
from shared.services.automations import AutomationView

router = APIRouter(prefix="/automations", tags=["automations"])

EXAMPLE = {
    "name": "Nurture until purchase",
    "reentry": "after_exit",
    "steps": [
        {"id": "welcome", "type": "send_email", "subject": "Hi {{ contact.first_name }}", "body": "..."},
        {"id": "pause", "type": "wait", "duration": "P3D"},
        {
            "id": "purchased",
            "type": "goal",
            "criteria": [{"type": "tag.added", "tag": "product purchased"}],
            "if_unmet": "wait",
            "timeout": "P30D",
            "on_timeout": "end",
        },
        {"id": "thanks", "type": "add_tag", "tag": "customer"},
    ],
}


DefinitionBody = Annotated[
    dict[str, Any],
    Body(openapi_examples={"nurture": {"summary": "Nurture until purchase", "value": EXAMPLE}}),
]
AutomationId = Annotated[str, Path(pattern=ID_PATTERN)]
# Saving a definition: its size (api.limits.BodyLimit), then the checks of shared.domain.definition.
SAVING: Responses = {
    **BODY,
    **invalid(
        "The definition fails a check; each problem names the step and the field. "
        f"Limits: a template (subject, body) is at most {size(TEMPLATE_BYTES)}; the structure "
        f"(the steps without their content) at most {size(STRUCTURE_BYTES)}."
    ),
}
# Definitions as saved: without the fields left out.
SAVED: dict[str, Any] = {"response_model_exclude_none": True}
UNKNOWN = not_found("automation")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    **SAVED,
    **guarded("admin", {**SAVING, **conflict("An automation with that id exists")}),
)
async def create_automation(services: ServicesDep, body: DefinitionBody) -> AutomationView:
    """Save a definition as version 1. `id` is optional (generated when absent)."""
    return await automations.create(services, body)


@router.put("/{automation_id}", **SAVED, **guarded("admin", {**SAVING, **UNKNOWN}))
async def publish_version(
    automation_id: AutomationId, services: ServicesDep, body: DefinitionBody
) -> AutomationView:
    """Publish the next version. Running enrollments stay on theirs."""
    return await automations.publish(services, automation_id, body)


@router.get("", **SAVED, **guarded("read", PAGED))
async def list_automations(
    services: ServicesDep, page: PageDep, request: Request, response: Response
) -> list[AutomationView]:
    """Each automation with its latest version, oldest first."""
    return linked(await automations.listed(services, page), request, response)


@router.get("/{automation_id}", **SAVED, **guarded("read", UNKNOWN))
async def get_automation(automation_id: AutomationId, services: ServicesDep) -> AutomationView:
    return await automations.latest(services, automation_id)


@router.get(
    "/{automation_id}/versions/{version}",
    **SAVED,
    **guarded("read", not_found("automation, or no such version of it")),
)
async def get_version(
    automation_id: AutomationId, version: Annotated[int, Path(ge=1)], services: ServicesDep
) -> AutomationView:
    return await automations.version(services, automation_id, version)


@router.delete("/{automation_id}", **SAVED, **guarded("admin", UNKNOWN))
async def archive_automation(automation_id: AutomationId, services: ServicesDep) -> AutomationView:
    """Archive: no new enrollments; running ones finish on their version."""
    return await automations.archive(services, automation_id)


@router.post("/{automation_id}/pause", **SAVED, **guarded("admin", UNKNOWN))
async def pause_automation(automation_id: AutomationId, services: ServicesDep) -> AutomationView:
    """Pause: new entries are refused (409), and running enrollments hold
    before each email, SMS or WhatsApp message to the contact; timers, goals,
    notifications and webhooks go on. Pausing a paused automation changes nothing."""
    return await pauses.pause(services, automation_id)


@router.post(
    "/{automation_id}/resume",
    **SAVED,
    **guarded(
        "admin", {**BODY, **UNKNOWN, **invalid("`stale_after` is not an ISO 8601 duration longer than zero")}
    ),
)
async def resume_automation(
    automation_id: AutomationId, services: ServicesDep, body: ResumeIn | None = None
) -> AutomationView:
    """Resume: held sends go out, or are skipped with reason `stale` when held
    longer than `stale_after`. Resuming an automation that is not paused changes nothing."""
    return await pauses.resume(services, automation_id, body.stale_after if body else None)
