"""The step types: one module each, with its model, its own definition checks
and where it can lead (`docs/adding-a-step.md`). This registry is the one place
that lists them."""

from typing import Annotated, Union

from pydantic import Field

from shared.domain.steps import (
    add_tag,
    add_to_list,
    assign_user,
    blocklist,
    create_deal,
    create_task,
    end,
    enroll_in_sequence,
    go_to,
    goal,
    if_else,
    notify,
    record_conversion,
    remove_from_automation,
    remove_from_list,
    remove_tag,
    send_email,
    send_sms,
    send_whatsapp,
    start_automation,
    unenroll_from_sequence,
    update_attribute,
    update_deal,
    wait,
    wait_for_event,
    webhook,
)
from shared.domain.steps.base import END, Branch, Problem, StepBase, StepId, planned

MODULES = (
    send_email,
    send_sms,
    send_whatsapp,
    notify,
    wait,
    wait_for_event,
    if_else,
    add_tag,
    remove_tag,
    update_attribute,
    add_to_list,
    remove_from_list,
    blocklist,
    record_conversion,
    webhook,
    go_to,
    goal,
    end,
    start_automation,
    remove_from_automation,
    enroll_in_sequence,
    unenroll_from_sequence,
    create_deal,
    update_deal,
    create_task,
    assign_user,
)

MODELS: tuple[type[StepBase], ...] = tuple(m.MODEL for m in MODULES)
# What an enrollment's plan holds of each: its structure, content by digest.
PLANNED: tuple[type[StepBase], ...] = tuple(planned(m.MODEL) for m in MODULES)
STEP_TYPES: tuple[str, ...] = tuple(m.model_fields["type"].annotation.__args__[0] for m in MODELS)  # type: ignore[union-attr]

Step = Annotated[Union[MODELS], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
PlannedStep = Annotated[Union[PLANNED], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007

__all__ = ["END", "MODELS", "STEP_TYPES", "Branch", "PlannedStep", "Problem", "Step", "StepBase", "StepId"]
