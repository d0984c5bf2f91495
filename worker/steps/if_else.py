"""`if_else` in the workflow: the contact is read fresh, the condition is pure."""

from typing import Any

from pydantic import BaseModel

from shared.domain.conditions import EventHistory, Facts, evaluate, histories, lists_named
from shared.domain.steps.if_else import IfElse
from worker.steps.base import Enrollment


class ContactSnapshot(BaseModel):
    tags: list[str]
    attributes: dict[str, Any]
    # Read only for conditions on lists and event history: the lists named that
    # the contact is in, and one count per event-history condition, in order.
    lists: list[str] = []
    counts: list[int] = []


class FactsInput(BaseModel):
    contact_id: str
    lists: list[str]
    histories: list[EventHistory]


async def run(enrollment: Enrollment, step: IfElse) -> int | None:
    events, lists = histories(step.condition), sorted(lists_named(step.condition))
    if events or lists:
        # Conditions on lists and events came after `load_contact`: plans that
        # have them run this activity, and no recorded history has such a plan.
        asked = FactsInput(contact_id=enrollment.input.contact_id, lists=lists, histories=events)
        contact = await enrollment.local("load_contact_facts", asked, ContactSnapshot, step)
    else:
        contact = await enrollment.local("load_contact", enrollment.input.contact_id, ContactSnapshot, step)
    facts = Facts(
        tags=set(contact.tags),
        attributes=contact.attributes,
        lists=set(contact.lists),
        counts=dict(zip(events, contact.counts, strict=True)),
    )
    result = evaluate(step.condition, facts)
    enrollment.record(step.id, "branched", branch="then" if result else "else")
    return enrollment.branch(step, step.then if result else step.else_)
