from fastapi import APIRouter

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict, not_found
from api.schemas import AppointmentIn
from shared.services import contacts
from shared.services.contacts import AppointmentView

router = APIRouter(tags=["appointments"])


@router.put(
    "/appointments/{appointment_id}",
    **guarded(
        "events",
        {**BODY, **not_found("contact"), **conflict("The appointment belongs to another contact")},
    ),
)
async def put_appointment(appointment_id: str, body: AppointmentIn, services: ServicesDep) -> AppointmentView:
    """Create or update an appointment; a new or changed status is an
    `appointment.status` event."""
    return await contacts.set_appointment(
        services, appointment_id, body.contact_id, body.calendar_id, body.status
    )
