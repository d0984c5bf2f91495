"""CRM (issue 14), pure: the CRM steps' definitions and checks, `notify`'s
users, the `deal.stage` criterion and the `deal.stage_changed` event."""

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.criteria import DealStageCriterion, matches
from shared.domain.crm import stage_changed
from shared.domain.definition import DefinitionError, content_of, digest, parse_definition, plan_of, warnings
from shared.domain.events import REQUIRED_DATA, SIGNALLED_DATA, Event, signalled
from shared.domain.steps.notify import Notify

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
DEAL = {"id": "open", "type": "create_deal", "name": "{{ contact.company }} plan", "pipeline": "sales",
        "stage": "new", "amount": 1200, "owner": "sam"}  # fmt: skip


def definition(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "crm", "steps": list(steps)}


def problem_of(*steps: dict[str, Any]) -> tuple[list[Any], str]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(definition(*steps))
    [problem] = caught.value.problems
    return problem.loc, problem.msg


def test_every_crm_step_is_accepted_and_its_template_stays_out_of_the_plan() -> None:
    steps = [
        DEAL,
        {"id": "move", "type": "update_deal", "stage": "qualified"},
        {"id": "call", "type": "create_task", "title": "Call {{ contact.first_name }}", "due_in": "P1D",
         "assignee": "sam"},
        {"id": "one", "type": "assign_user", "user": "sam"},
        {"id": "turns", "type": "assign_user", "users": ["sam", "kim"], "strategy": "round_robin"},
        {"id": "won", "type": "goal", "criteria": [{"type": "deal.stage", "pipeline": "sales", "stages": ["won"]}]},
    ]  # fmt: skip
    automation = parse_definition(definition(*steps))
    plan = plan_of(automation).model_dump(mode="json")
    deal, _, task = plan["steps"][:3]
    assert "name" not in deal and deal["pipeline"] == "sales" and deal["digest"].startswith("sha256:")
    assert "title" not in task and task["due_in"] == "P1D"
    assert automation.steps[4].strategy == "round_robin"
    # Saved, then parsed again: the same automation.
    assert (
        parse_definition(automation.model_dump(mode="json", by_alias=True, exclude_none=True)) == automation
    )
    assert warnings(automation) == [
        "step 'open': contact.company is printed without a default; contacts without it are skipped "
        "(missing merge field)",
        "step 'call': contact.first_name is printed without a default; contacts without it are skipped "
        "(missing merge field)",
    ]


@pytest.mark.parametrize(
    ("step", "loc", "message"),
    [
        ({"id": "a", "type": "assign_user"}, ["steps", 0, "user"], "give either user, or users"),
        ({"id": "a", "type": "assign_user", "user": "sam", "users": ["kim"]}, ["steps", 0, "user"], "either"),
        ({"id": "a", "type": "assign_user", "users": []}, ["steps", 0, "users"], "at least 1 item"),
        ({"id": "a", "type": "assign_user", "users": ["a"], "strategy": "random"}, ["steps", 0, "strategy"],
         "'round_robin'"),
        ({**DEAL, "amount": -1}, ["steps", 0, "amount"], "greater than or equal to 0"),
        ({**DEAL, "amount": False}, ["steps", 0, "amount"], "valid number"),
        ({**DEAL, "name": "{{ oops"}, ["steps", 0, "name"], "template error"),
        ({**DEAL, "pipeline": ""}, ["steps", 0, "pipeline"], "at least 1 character"),
        ({"id": "a", "type": "update_deal"}, ["steps", 0, "stage"], "Field required"),
        ({"id": "a", "type": "create_task", "title": "t", "due_in": "P1M"}, ["steps", 0, "due_in"],
         "months and years"),
        ({"id": "a", "type": "notify", "subject": "s", "body": "b"}, ["steps", 0, "to"],
         "give to, users, or both"),
        ({"id": "a", "type": "notify", "subject": "s", "body": "b", "users": ["bad id"]},
         ["steps", 0, "users", 0], "String should match pattern"),
    ],
)  # fmt: skip
def test_a_bad_crm_step_is_refused_naming_the_step_and_the_field(
    step: dict[str, Any], loc: list[Any], message: str
) -> None:
    found_loc, msg = problem_of(step)
    assert found_loc == loc and message in msg and msg.startswith(f"step '{step['id']}': ")


def test_a_notify_saved_before_users_existed_keeps_its_digest() -> None:
    """Enrollments of versions saved before `users` carry digests without it:
    their notify steps must still match."""
    step = Notify(id="n", type="notify", to=["ops@acme.test"], subject="S", body="B")
    before = '{"body":"B","sender":null,"subject":"S","to":["ops@acme.test"]}'
    assert digest(content_of(step)) == "sha256:" + hashlib.sha256(before.encode()).hexdigest()
    with_users = Notify(id="n", type="notify", users=["sam"], subject="S", body="B")
    assert content_of(with_users)["users"] == ["sam"] and content_of(with_users)["to"] == []


def test_a_deal_stage_criterion_meets_a_move_into_one_of_its_stages_of_its_pipeline() -> None:
    won = DealStageCriterion(type="deal.stage", pipeline="sales", stages=["won", "signed"])

    def moved(pipeline: str, to: str, kind: str = "deal.stage_changed") -> Event:
        data = {"deal_id": "d1", "pipeline": pipeline, "from": "new", "to": to}
        return Event(id=f"{pipeline}-{to}-{kind}", contact_id="ada", type=kind, occurred_at=NOW, data=data)  # type: ignore[arg-type]

    assert matches(won, moved("sales", "won"), {}) and matches(won, moved("sales", "signed"), {})
    assert not matches(won, moved("sales", "lost"), {})
    assert not matches(won, moved("renewals", "won"), {})
    assert not matches(won, moved("sales", "won", kind="contact.created"), {})


def test_a_stage_change_is_signalled_with_what_the_criterion_reads() -> None:
    event = stage_changed("ev1", "ada", "d1", "sales", "new", "won", NOW)
    assert event.data == {"deal_id": "d1", "pipeline": "sales", "from": "new", "to": "won"}
    assert signalled(event).data == {"deal_id": "d1", "pipeline": "sales", "to": "won"}
    assert matches(
        DealStageCriterion(type="deal.stage", pipeline="sales", stages=["won"]), signalled(event), {}
    )
    with pytest.raises(ValidationError, match=r"data.pipeline is required for deal.stage_changed events"):
        Event(id="e", contact_id="ada", type="deal.stage_changed", data={"deal_id": "d1", "to": "won"})


def test_what_an_event_requires_is_signalled_for_every_event_type() -> None:
    """A signal is validated as an event in the workflow: a required field cut
    from it would fail the enrollment's workflow task."""
    for event_type, fields in REQUIRED_DATA.items():
        assert set(fields) <= set(SIGNALLED_DATA), event_type
