"""What the CRM steps' activities share: their step's template, fetched and
checked against the plan's digest; rendering it with the contact's merge
fields; and the answers for a contact or a user that is not there."""

from jinja2 import Template
from temporalio.exceptions import ApplicationError

from shared.domain.crm import NAME_CHARS
from shared.store.db import Contact
from worker.activities.base import ActivityGroup
from worker.content import ContentMismatch, step_content
from worker.email import MissingField, RenderError, merge_fields, render
from worker.steps.crm import CrmInput, CrmResult

NO_CONTACT = "contact no longer exists"


def skipped(reason: str) -> CrmResult:
    return CrmResult(outcome="skipped", detail={"reason": reason})


def no_user(user_id: str) -> ApplicationError:
    """Fails the step: a definition naming a user nobody created is a mistake to see, not to skip."""
    return ApplicationError(f"no user '{user_id}'", non_retryable=True)


class CrmActivities(ActivityGroup):
    def template(self, step: CrmInput, digest: str | None, field: str) -> Template:
        """The step's template `field`, as its version saved it. Call on the database thread."""
        try:
            content = step_content(self.engine, step.automation_id, step.version, step.step_id, digest)
        except ContentMismatch as error:
            raise ApplicationError(str(error), non_retryable=True) from None
        return content.templates[field]


def rendered(template: Template, contact: Contact, field: str) -> str | CrmResult:
    """The text, cut to a name's length; skipped, as a send is, for a merge field
    the contact lacks; a template that fails otherwise fails the step."""
    try:
        text = render(template, merge_fields(contact)).strip()[:NAME_CHARS]
    except MissingField as error:
        return skipped(str(error))
    except RenderError as error:
        raise ApplicationError(str(error), non_retryable=True) from None
    return text or skipped(f"the {field} renders empty")
