from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict, not_found
from api.paging import PAGED, PageDep, linked
from api.schemas import TAG, ContactFields, ContactIn, TagIn
from shared.domain.ids import ID_PATTERN
from shared.services import contacts, enrollments
from shared.services.contacts import ContactView, MessageView, TagsView
from shared.services.enrollments import EnrollmentSummary

router = APIRouter(prefix="/contacts", tags=["contacts"])

ContactId = Annotated[str, Path(pattern=ID_PATTERN)]
UNKNOWN = not_found("contact")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    **guarded("events", {**BODY, **conflict("A contact with that id exists")}),
)
async def create_contact(body: ContactIn, services: ServicesDep) -> ContactView:
    return await contacts.create(services, body.model_dump(exclude_none=True))


@router.get("/{contact_id}", **guarded("read", UNKNOWN))
async def get_contact(contact_id: ContactId, services: ServicesDep) -> ContactView:
    return await contacts.get(services, contact_id)


@router.patch("/{contact_id}", **guarded("events", {**BODY, **UNKNOWN}))
async def update_contact(contact_id: ContactId, body: ContactFields, services: ServicesDep) -> ContactView:
    return await contacts.update(services, contact_id, body.model_dump(exclude_unset=True))


@router.post("/{contact_id}/tags", **guarded("events", {**BODY, **UNKNOWN}))
async def add_tag(contact_id: ContactId, body: TagIn, services: ServicesDep) -> TagsView:
    """Add a tag. A real change is a `tag.added` event; `event_id` is null when
    the contact already had the tag."""
    return await contacts.add_tag(services, contact_id, body.tag)


@router.delete("/{contact_id}/tags/{tag}", **guarded("events", UNKNOWN))
async def remove_tag(
    contact_id: ContactId, tag: Annotated[str, Path(**TAG)], services: ServicesDep
) -> TagsView:
    """Remove a tag. A real change is a `tag.removed` event; `event_id` is null
    when the contact did not have the tag."""
    return await contacts.remove_tag(services, contact_id, tag)


@router.post("/{contact_id}/blocklist", **guarded("admin", UNKNOWN))
async def blocklist_contact(contact_id: ContactId, services: ServicesDep) -> ContactView:
    """Put the contact on the blocklist: no automation sends it anything from
    then on (each send is skipped, `contact is blocklisted`); internal `notify`
    messages about it still go out. Answers the contact."""
    return await contacts.blocklist(services, contact_id, True)


@router.delete("/{contact_id}/blocklist", **guarded("admin", UNKNOWN))
async def unblocklist_contact(contact_id: ContactId, services: ServicesDep) -> ContactView:
    """Take the contact off the blocklist. Answers the contact."""
    return await contacts.blocklist(services, contact_id, False)


@router.get("/{contact_id}/enrollments", **guarded("read", {**PAGED, **UNKNOWN}))
async def contact_enrollments(
    contact_id: ContactId, services: ServicesDep, page: PageDep, request: Request, response: Response
) -> list[EnrollmentSummary]:
    return linked(await enrollments.for_contact(services, contact_id, page), request, response)


@router.get("/{contact_id}/messages", **guarded("read", {**PAGED, **UNKNOWN}))
async def contact_messages(
    contact_id: ContactId, services: ServicesDep, page: PageDep, request: Request, response: Response
) -> list[MessageView]:
    return linked(await contacts.messages(services, contact_id, page), request, response)
