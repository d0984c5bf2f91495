"""The goal rules of SPEC §3 (G1–G13), pure and deterministic.

The enrollment workflow asks this module two questions: what an incoming event
does to the goals (`on_event`), and what happens when the contact reaches a
goal step (`on_arrival`). No I/O, no clock, no randomness: the workflow calls it
from signal handlers, and it is unit-tested on its own.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.domain.criteria import matches, rearms
from shared.domain.definition import Automation
from shared.domain.events import Event
from shared.domain.steps.goal import Goal


@dataclass(frozen=True)
class GoalDecision:
    # Goals this event meets now (G5: all of them count).
    met: tuple[str, ...] = ()
    # Met goals that may be met again (G4: a tag goal whose tag was undone).
    rearmed: tuple[str, ...] = ()
    # The goal step to pull the contact to, if any (G3, G5).
    move_to: str | None = None


def counts(event: Event, enrolled_at: datetime) -> bool:
    """G2: only events that occurred at or after the enrollment started count."""
    return event.occurred_at >= enrolled_at


def on_event(
    automation: Automation,
    event: Event,
    *,
    met: frozenset[str],
    passed: frozenset[str],
    position: int,
    pending_move: str | None,
    sent: dict[str, str],
) -> GoalDecision:
    """What `event` does to the goals of the pinned version.

    `met`: goals met so far. `passed`: goal steps the contact reached and left
    unmet. `position`: the index of the contact's current step. `pending_move`:
    a goal the contact is already being pulled to. `sent`: message id -> send
    step, for the messages this enrollment sent (G8).
    """
    goals = automation.goals()
    rearmed = tuple(g.id for g in goals if g.id in met and any(rearms(c, event) for c in g.criteria))
    still_met = met - set(rearmed)
    newly_met = tuple(
        g.id for g in goals if g.id not in still_met and any(matches(c, event, sent) for c in g.criteria)
    )
    # G3/G6: pull only to goals ahead of (or at) the contact that it has not
    # left behind; moving back would run a step twice. G5: the furthest wins.
    candidates = [
        automation.index(g) for g in newly_met if g not in passed and automation.index(g) >= position
    ]
    if pending_move is not None:
        candidates.append(automation.index(pending_move))
    move_to = automation.steps[max(candidates)].id if candidates else None
    return GoalDecision(met=newly_met, rearmed=rearmed, move_to=move_to)


Arrival = Literal["pass", "end", "continue", "wait"]


def on_arrival(goal: Goal, met: frozenset[str]) -> Arrival:
    """G7: a met goal lets the contact go on; an unmet one does what `if_unmet` says."""
    return "pass" if goal.id in met else goal.if_unmet
