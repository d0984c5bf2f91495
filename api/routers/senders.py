"""Senders and their daily limits."""

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BeforeValidator, Field

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict
from api.schemas import _Body
from shared.domain.phones import E164
from shared.services import senders
from shared.services.senders import SenderView

router = APIRouter(prefix="/senders", tags=["senders"])


def _whole(value: object) -> object:
    """A JSON integer, written `10` or `10.0`; not `true` or `"10"`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    return int(value)


# The bounds sit on the integer, inside the validator: on `Count | None`, or after
# the validator, pydantic writes them as `"ge": 0`, which no client reads as a minimum.
# The column is a 32-bit integer: a larger limit was a database error, a 500.
Count = Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_whole)]


class EmailSenderIn(_Body):
    email: str = Field(pattern=r"^[^@\s<>]+@[^@\s<>]+$", max_length=254)
    name: str | None = Field(default=None, max_length=200)
    # Messages per UTC day; past it a send step is skipped ('daily send limit reached').
    daily_limit: Count | None = None


class PhoneSenderIn(_Body):
    """A number SMS and WhatsApp messages come from: its daily limit counts both."""

    phone: str = Field(pattern=E164)
    name: str | None = Field(default=None, max_length=200)
    daily_limit: Count | None = None


@router.post(
    "", status_code=status.HTTP_201_CREATED, **guarded("admin", {**BODY, **conflict("That sender exists")})
)
async def create_sender(body: EmailSenderIn | PhoneSenderIn, services: ServicesDep) -> SenderView:
    """A sender a send step's `sender` can name, with its daily limit: an email
    address, or a phone number (`send_sms`, `send_whatsapp`)."""
    address = body.email if isinstance(body, EmailSenderIn) else body.phone
    return await senders.create(services, address, body.name, body.daily_limit)


@router.get("", **guarded("read"))
async def list_senders(services: ServicesDep) -> list[SenderView]:
    return await senders.all_senders(services)
