"""Sales sequences (SPEC §2): an automation of kind `sequence` stops by itself
when the contact answers. What ends one, decided in its enrollment's workflow."""

from collections.abc import Container

from shared.domain.events import Event

REPLIED = "replied"
MEETING_BOOKED = "meeting booked"
# The status of an `appointment.status` event that books a meeting.
BOOKED = "new"


def ended_by(event: Event, sent: Container[str]) -> str | None:
    """The end reason `event` gives a sequence's enrollment that sent the
    messages `sent`: a reply to one of them, or a meeting booked; else None."""
    if event.type == "email.replied" and event.data.get("message_id") in sent:
        return REPLIED
    if event.type == "appointment.status" and event.data.get("status") == BOOKED:
        return MEETING_BOOKED
    return None
