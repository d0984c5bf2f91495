from fastapi import APIRouter, Response, status

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, not_found, too_large
from api.limits import body_limit
from shared.domain.events import Event
from shared.domain.limits import EVENT_BYTES
from shared.services.events import Accepted

router = APIRouter(tags=["events"])


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    **guarded(
        "events",
        {
            200: {
                "model": Accepted,
                "description": "An event with that id was posted before: the first answer",
            },
            **BODY,
            **too_large(EVENT_BYTES, "The event"),
            **not_found("contact"),
        },
        (body_limit(EVENT_BYTES, "the event"),),
    ),
)
async def post_event(event: Event, response: Response, services: ServicesDep) -> Accepted:
    """Store the event and signal every running enrollment of its contact that
    started at or before `occurred_at`, then start the automations whose
    triggers it fires. The same `id` again answers 200 with the first answer
    and delivers nothing twice."""
    accepted, new = await services.bus.post(event)
    if not new:
        response.status_code = status.HTTP_200_OK
    return accepted
