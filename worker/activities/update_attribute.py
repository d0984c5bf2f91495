"""`update_attribute`: once per step run."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.store import contacts
from shared.store.db import StepRun
from worker.activities.base import ActivityGroup
from worker.steps.update_attribute import AttributeInput


class AttributeActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.update_attribute]

    @activity.defn(name="update_attribute")
    async def update_attribute(self, step: AttributeInput) -> dict[str, Any]:
        return await self.db(lambda s: _update(s, step))


def _update(session: Session, step: AttributeInput) -> dict[str, Any]:
    done = session.get(StepRun, step.key)
    if done is not None:
        return done.result
    contact = contacts.get_contact(session, step.contact_id)
    attributes = dict(contact.attributes)
    old = attributes.get(step.attribute)
    match step.op:
        case "set":
            attributes[step.attribute] = step.value
        case "unset":
            attributes.pop(step.attribute, None)
        case "increment" | "decrement":
            amount = step.value if step.value is not None else 1
            if not isinstance(old or 0, int | float) or not isinstance(amount, int | float):
                raise ApplicationError(
                    f"cannot {step.op} '{step.attribute}' ({old!r}) by {amount!r}", non_retryable=True
                )
            sign = 1 if step.op == "increment" else -1
            attributes[step.attribute] = (old or 0) + sign * amount
    contact.attributes = attributes
    result = {"attribute": step.attribute, "old": old, "new": attributes.get(step.attribute)}
    session.add(contact)
    session.add(StepRun(key=step.key, result=result))
    session.commit()
    return result


def set_attribute(session: Session, key: str, contact_id: str, attribute: str, value: Any) -> dict[str, Any]:
    """Set one attribute once per `key`, as an `update_attribute` step does
    (a webhook step saving its answer): a retry returns the first change."""
    return _update(
        session, AttributeInput(key=key, contact_id=contact_id, attribute=attribute, op="set", value=value)
    )
