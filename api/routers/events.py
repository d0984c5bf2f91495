from typing import Any

from fastapi import APIRouter, Response, status

from api.auth import guarded
from api.deps import BusDep, DbDep
from api.limits import body_limit, too_large
from shared.domain.events import Event
from shared.domain.limits import EVENT_BYTES
from shared.store.contacts import get_contact

router = APIRouter(tags=["events"])


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    **guarded("events", too_large(EVENT_BYTES, "The event"), (body_limit(EVENT_BYTES, "the event"),)),
)
async def post_event(event: Event, response: Response, bus: BusDep, db: DbDep) -> dict[str, Any]:
    """Store the event and signal every running enrollment of its contact that
    started at or before `occurred_at`. The same `id` again answers 200 with
    the first answer and delivers nothing twice."""
    await db(lambda s: get_contact(s, event.contact_id))
    new, delivered_to = await bus.publish(event)
    if not new:
        response.status_code = status.HTTP_200_OK
    return {"event_id": event.id, "delivered_to": delivered_to}
