"""The step types: one module each, with its model, its own definition checks
and where it can lead (`docs/adding-a-step.md`). This registry is the one place
that lists them."""

from typing import Annotated, Union

from pydantic import Field

from shared.domain.steps import (
    add_tag,
    assign_user,
    create_deal,
    create_task,
    end,
    go_to,
    goal,
    if_else,
    notify,
    remove_tag,
    send_email,
    send_sms,
    send_whatsapp,
    update_attribute,
    update_deal,
    wait,
    wait_for_event,
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
    go_to,
    goal,
    end,
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
