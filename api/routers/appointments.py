from typing import Any

from fastapi import APIRouter

from api.auth import guarded
from api.deps import BusDep
from api.schemas import AppointmentIn
from shared.domain.events import Event
from shared.store.contacts import set_appointment

router = APIRouter(tags=["appointments"])


@router.put("/appointments/{appointment_id}", **guarded("events"))
async def put_appointment(appointment_id: str, body: AppointmentIn, bus: BusDep) -> dict[str, Any]:
    """Create or update an appointment; a new or changed status is an
    `appointment.status` event."""
    saved: dict[str, Any] = {}

    def change(session: Any) -> list[Event]:
        appointment, events = set_appointment(
            session, appointment_id, body.contact_id, body.calendar_id, body.status
        )
        saved.update(appointment.model_dump())
        return events

    events = await bus.commit_and_deliver(change)
    return {**saved, "event_id": events[0].id if events else None}
