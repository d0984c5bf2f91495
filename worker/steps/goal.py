"""`goal` reached in the workflow: what the goal rules (`shared.domain.goals`)
say an arrival does. A goal met elsewhere pulls the contact here (`on_event`)."""

from temporalio import workflow

from shared.domain import goals
from shared.domain.steps.goal import Goal
from worker.steps.base import Enrollment


async def run(enrollment: Enrollment, step: Goal) -> int | None:
    state = enrollment.state
    arrival = goals.on_arrival(step, frozenset(state.goals_met))
    if arrival == "pass":
        enrollment.record(step.id, "done", met=True)
        return enrollment.after(step)
    if arrival == "end":
        enrollment.record(step.id, "ended", met=False)
        enrollment.end("completed", f"goal '{step.id}' not met")
        return None
    if arrival == "wait":
        if not state.waiting:
            state.deadline = workflow.now() + step.timeout if step.timeout else None
            enrollment.start_holding(step, until=state.deadline.isoformat() if state.deadline else None)
        if not await enrollment.hold(step, lambda: step.id in state.goals_met):
            if step.id in state.goals_met:
                enrollment.record(step.id, "done", met=True)
                return enrollment.after(step)
            return None
        state.goals_passed.append(step.id)
        enrollment.record(step.id, "timed_out", met=False)
        return enrollment.branch(step, step.on_timeout)
    state.goals_passed.append(step.id)
    enrollment.record(step.id, "done", met=False)
    return enrollment.after(step)
