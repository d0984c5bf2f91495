"""SPEC §3 goal rules as pure decisions: `shared.domain.goals` and `shared.domain.criteria`,
without Temporal or a database. The end-to-end versions are in test_goal_rules.py."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.domain.criteria import AppointmentCriterion, CustomCriterion, matches, rearms
from shared.domain.definition import Automation, parse_definition
from shared.domain.events import Event
from shared.domain.goals import GoalDecision, counts, on_arrival, on_event
from shared.domain.steps.goal import Goal

pytestmark = pytest.mark.unit

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SENT = {"m-welcome": "welcome", "m-followup": "followup"}


def automation(*steps: dict[str, Any]) -> Automation:
    return parse_definition({"name": "test", "steps": list(steps)})


def email(step_id: str) -> dict[str, Any]:
    return {"id": step_id, "type": "send_email", "subject": "Hi {{ contact.first_name }}", "body": "Body"}


def wait(step_id: str) -> dict[str, Any]:
    return {"id": step_id, "type": "wait", "duration": "P3D"}


def goal(step_id: str, *criteria: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "goal", "criteria": list(criteria), **options}


NURTURE = automation(
    email("welcome"),  # 0
    wait("pause"),  # 1
    email("followup"),  # 2
    goal("engaged", {"type": "email", "actions": ["opened", "clicked"]}),  # 3
    goal("clicked_offer", {"type": "link.clicked", "links": ["offer"]}),  # 4
    wait("pause2"),  # 5
    goal(
        "booked",
        {"type": "appointment", "calendar": "cal-1", "statuses": ["confirmed", "showed"]},
        if_unmet="end",
    ),  # 6
    goal(
        "purchased",
        {"type": "tag.added", "tag": "bought"},
        {"type": "link.clicked", "links": ["offer", "buy"]},
        if_unmet="wait",
        timeout="P30D",
        on_timeout="end",
    ),  # 7
    goal("downgraded", {"type": "tag.removed", "tag": "vip"}),  # 8
    {"id": "thanks", "type": "add_tag", "tag": "customer"},  # 9
)


def event(type_: str, at: datetime = START + timedelta(hours=1), **data: Any) -> Event:
    return Event(
        id=f"ev-{type_}-{sorted(data.items())}", contact_id="c1", type=type_, occurred_at=at, data=data
    )


def decide(
    ev: Event,
    *,
    at: str = "pause",
    met: frozenset[str] | set[str] = frozenset(),
    passed: frozenset[str] | set[str] = frozenset(),
    pending_move: str | None = None,
    sent: dict[str, str] = SENT,
    definition: Automation = NURTURE,
) -> GoalDecision:
    return on_event(
        definition,
        ev,
        met=frozenset(met),
        passed=frozenset(passed),
        position=definition.index(at),
        pending_move=pending_move,
        sent=sent,
    )


def goal_step(step_id: str) -> Goal:
    step = NURTURE.steps[NURTURE.index(step_id)]
    assert isinstance(step, Goal)
    return step


# ---- G2: only events from the enrollment's start count ----------------------------------------------


def test_g2_an_event_at_the_moment_the_enrollment_started_counts() -> None:
    assert counts(event("tag.added", at=START, tag="bought"), START)
    assert counts(event("tag.added", at=START + timedelta(days=40), tag="bought"), START)


def test_g2_an_earlier_event_never_counts_even_when_delivered_late() -> None:
    # Delivered now, long after the enrollment started, but it happened a second before it.
    late = event("tag.added", at=START - timedelta(seconds=1), tag="bought")
    assert not counts(late, START)


def test_g2_times_in_other_zones_are_compared_as_instants() -> None:
    paris = timezone(timedelta(hours=2))
    # 10:30 at +02:00 is 08:30 UTC: before the 09:00 UTC start, although 10:30 > 09:00 on the clock.
    assert not counts(event("tag.added", at=datetime(2025, 3, 1, 10, 30, tzinfo=paris), tag="x"), START)
    assert counts(event("tag.added", at=datetime(2025, 3, 1, 11, 0, tzinfo=paris), tag="x"), START)


# ---- G3: a met goal ahead pulls the contact there -------------------------------------------------


def test_g3_an_event_meeting_a_goal_ahead_pulls_the_contact_to_it() -> None:
    decision = decide(event("tag.added", tag="bought"), at="pause")
    assert decision == GoalDecision(met=("purchased",), rearmed=(), move_to="purchased")


def test_g3_the_goal_listens_from_the_first_step() -> None:
    decision = decide(
        event("appointment.status", calendar_id="cal-1", appointment_id="a1", status="showed"), at="welcome"
    )
    assert decision.met == ("booked",)
    assert decision.move_to == "booked"


def test_g3_an_event_meeting_no_goal_moves_nothing() -> None:
    for ev in (
        event("tag.added", tag="newsletter"),
        event("link.clicked", link_id="elsewhere"),
        event("appointment.status", calendar_id="cal-2", appointment_id="a1", status="confirmed"),
        event("appointment.status", calendar_id="cal-1", appointment_id="a1", status="new"),
        event("custom", name="visited"),
    ):
        assert decide(ev) == GoalDecision(), ev


# ---- G4: met at most once; tag goals re-arm --------------------------------------------------------


def test_g4_a_goal_is_met_at_most_once() -> None:
    decision = decide(event("link.clicked", link_id="buy"), at="pause", met={"purchased"})
    assert decision == GoalDecision()


def test_g4_tag_added_goal_rearms_when_the_tag_is_removed_and_can_be_met_again() -> None:
    met = {"purchased"}
    removed = decide(event("tag.removed", tag="bought"), at="pause", met=met)
    assert removed.rearmed == ("purchased",)
    assert removed.met == ()
    assert removed.move_to is None
    met -= set(removed.rearmed)
    added_again = decide(event("tag.added", tag="bought"), at="pause", met=met)
    assert added_again.met == ("purchased",)
    assert added_again.move_to == "purchased"


def test_g4_tag_removed_goal_rearms_when_the_tag_is_added_again() -> None:
    decision = decide(event("tag.added", tag="vip"), at="pause", met={"downgraded"})
    assert decision.rearmed == ("downgraded",)
    assert decision.met == ()


def test_g4_without_rearming_a_met_tag_goal_is_not_met_again() -> None:
    # The tag was never removed: adding it again changes nothing.
    assert decide(event("tag.added", tag="bought"), met={"purchased"}) == GoalDecision()
    assert decide(event("tag.removed", tag="vip"), met={"downgraded"}) == GoalDecision()


def test_g4_only_the_same_tag_undone_rearms_a_met_goal() -> None:
    met = {"purchased", "downgraded", "booked", "clicked_offer", "engaged"}
    assert decide(event("tag.removed", tag="other"), met=met).rearmed == ()
    assert decide(event("tag.added", tag="other"), met=met).rearmed == ()
    # Only tag goals re-arm: a cancelled appointment or another click does not.
    cancelled = event("appointment.status", calendar_id="cal-1", appointment_id="a1", status="cancelled")
    assert decide(cancelled, met=met).rearmed == ()
    assert decide(event("link.clicked", link_id="offer"), met=met).rearmed == ()


def test_g4_a_goal_not_met_is_not_rearmed() -> None:
    assert decide(event("tag.removed", tag="bought")).rearmed == ()


def test_g4_rearms_is_true_only_for_the_opposite_change_of_the_same_tag() -> None:
    added = goal_step("purchased").criteria[0]
    assert rearms(added, event("tag.removed", tag="bought"))
    assert not rearms(added, event("tag.added", tag="bought"))
    assert not rearms(added, event("tag.removed", tag="other"))
    removed = goal_step("downgraded").criteria[0]
    assert rearms(removed, event("tag.added", tag="vip"))
    assert not rearms(removed, event("tag.removed", tag="vip"))


# ---- G5: one event, several goals: the furthest wins, all count -------------------------------------


def test_g5_one_event_meeting_two_goals_moves_to_the_furthest() -> None:
    decision = decide(event("link.clicked", link_id="offer"), at="pause")
    assert set(decision.met) == {"clicked_offer", "purchased"}
    assert decision.move_to == "purchased"


def test_g5_three_goals_met_at_once_all_count_and_the_last_in_step_order_wins() -> None:
    definition = automation(
        wait("pause"),
        goal("zeta", {"type": "tag.added", "tag": "t"}),
        goal("alpha", {"type": "link.clicked", "links": ["l"]}, {"type": "tag.added", "tag": "t"}),
        wait("pause2"),
        goal("mid", {"type": "tag.added", "tag": "t"}),
    )
    decision = decide(event("tag.added", tag="t"), at="pause", definition=definition)
    assert set(decision.met) == {"zeta", "alpha", "mid"}
    assert decision.move_to == "mid"


def test_g5_a_further_goal_overrides_a_pending_move() -> None:
    decision = decide(event("tag.added", tag="bought"), at="pause", pending_move="clicked_offer")
    assert decision.move_to == "purchased"


def test_g5_a_nearer_goal_does_not_shorten_a_pending_move() -> None:
    decision = decide(event("email.opened", message_id="m-welcome"), at="pause", pending_move="purchased")
    assert decision.met == ("engaged",)
    assert decision.move_to == "purchased"


# ---- G6: a goal passed or behind is recorded, never moves back ---------------------------------------


def test_g6_a_passed_goal_is_recorded_met_but_does_not_move_the_contact_back() -> None:
    decision = decide(event("email.opened", message_id="m-welcome"), at="pause2", passed={"engaged"})
    assert decision.met == ("engaged",)
    assert decision.move_to is None


def test_g6_a_goal_skipped_by_an_earlier_move_does_not_pull_the_contact_back() -> None:
    # The contact was pulled to `purchased` and is now at `thanks`; `booked` lies behind.
    confirmed = event("appointment.status", calendar_id="cal-1", appointment_id="a1", status="confirmed")
    decision = decide(confirmed, at="thanks", met={"purchased"})
    assert decision.met == ("booked",)
    assert decision.move_to is None


def test_g6_after_a_loop_back_a_passed_goal_ahead_does_not_pull_the_contact() -> None:
    # A go_to brought the contact back to the start; `engaged` is ahead again but was passed unmet.
    decision = decide(event("email.clicked", message_id="m-followup"), at="welcome", passed={"engaged"})
    assert decision.met == ("engaged",)
    assert decision.move_to is None


def test_g6_of_two_goals_met_at_once_only_the_one_ahead_moves_the_contact() -> None:
    decision = decide(event("link.clicked", link_id="offer"), at="pause2", passed={"clicked_offer"})
    assert set(decision.met) == {"clicked_offer", "purchased"}
    assert decision.move_to == "purchased"


# ---- G7: arriving at a goal step ---------------------------------------------------------------------


@pytest.mark.parametrize("step_id", ["engaged", "booked", "purchased"])
def test_g7_arriving_at_a_met_goal_goes_on_whatever_if_unmet_says(step_id: str) -> None:
    assert on_arrival(goal_step(step_id), frozenset({step_id})) == "pass"


@pytest.mark.parametrize(
    ("step_id", "arrival"), [("engaged", "continue"), ("booked", "end"), ("purchased", "wait")]
)
def test_g7_arriving_at_an_unmet_goal_does_what_if_unmet_says(step_id: str, arrival: str) -> None:
    # Other goals being met does not make this one met.
    assert on_arrival(goal_step(step_id), frozenset({"downgraded", "clicked_offer"})) == arrival


# ---- G8: email goals count only this enrollment's messages -------------------------------------------


def test_g8_opening_a_message_this_enrollment_sent_meets_the_email_goal() -> None:
    decision = decide(event("email.opened", message_id="m-followup"), at="pause")
    assert decision.met == ("engaged",)
    assert decision.move_to == "engaged"


def test_g8_opening_a_message_from_another_automation_never_meets_the_email_goal() -> None:
    assert decide(event("email.opened", message_id="m-from-elsewhere")) == GoalDecision()
    # Nothing sent yet: no email event can meet the goal.
    assert decide(event("email.clicked", message_id="m-welcome"), sent={}) == GoalDecision()


def test_g8_email_goal_limited_to_named_send_steps() -> None:
    definition = automation(
        email("welcome"),
        wait("pause"),
        email("followup"),
        goal("followup_opened", {"type": "email", "actions": ["opened"], "steps": ["followup"]}),
    )
    assert decide(event("email.opened", message_id="m-welcome"), definition=definition) == GoalDecision()
    decision = decide(event("email.opened", message_id="m-followup"), definition=definition)
    assert decision.met == ("followup_opened",)


def test_g8_email_goal_counts_only_its_actions() -> None:
    for other in ("email.unsubscribed", "email.complained", "email.spam", "email.replied"):
        assert decide(event(other, message_id="m-welcome")) == GoalDecision(), other
    assert decide(event("email.clicked", message_id="m-welcome")).met == ("engaged",)


# ---- G9: tag and appointment changes count whatever their origin -------------------------------------


@pytest.mark.parametrize("origin", ["api", "import", "automation:other", "step:thanks"])
def test_g9_tag_and_appointment_changes_count_whatever_their_origin(origin: str) -> None:
    assert decide(event("tag.added", tag="bought", origin=origin)).met == ("purchased",)
    showed = event(
        "appointment.status", calendar_id="cal-1", appointment_id="a1", status="showed", origin=origin
    )
    assert decide(showed).met == ("booked",)


# ---- G11: later changes never undo a move --------------------------------------------------------


def test_g11_a_tag_removed_after_the_move_does_not_move_the_contact() -> None:
    decision = decide(event("tag.removed", tag="bought"), at="thanks", met={"purchased"})
    assert decision.move_to is None
    assert decision.met == ()


def test_g11_a_cancelled_appointment_after_the_move_changes_nothing() -> None:
    cancelled = event("appointment.status", calendar_id="cal-1", appointment_id="a1", status="cancelled")
    assert decide(cancelled, at="pause2", met={"booked"}) == GoalDecision()
    # Nor does it meet a goal that was waiting for a confirmation.
    assert decide(cancelled, at="pause2") == GoalDecision()


# ---- criteria that goals share with wait_for_event ---------------------------------------------------


def test_appointment_criterion_needs_its_calendar_and_one_of_its_statuses() -> None:
    criterion = AppointmentCriterion(type="appointment", calendar="cal-1", statuses=["confirmed"])
    at = {"appointment_id": "a1"}
    assert matches(criterion, event("appointment.status", calendar_id="cal-1", status="confirmed", **at), {})
    assert not matches(criterion, event("appointment.status", calendar_id="cal-1", status="new", **at), {})
    assert not matches(
        criterion, event("appointment.status", calendar_id="cal-9", status="confirmed", **at), {}
    )


def test_custom_criterion_matches_its_name_and_optional_value() -> None:
    any_value = CustomCriterion(type="custom", name="webinar")
    gold = CustomCriterion(type="custom", name="webinar", value="gold")
    assert matches(any_value, event("custom", name="webinar", value="silver"), {})
    assert matches(gold, event("custom", name="webinar", value="gold"), {})
    assert not matches(gold, event("custom", name="webinar", value="silver"), {})
    assert not matches(gold, event("custom", name="webinar"), {})
    assert not matches(any_value, event("custom", name="demo"), {})


# ---- G14: automated opens and clicks count only when the criterion says so --------------------------


def test_g14_an_automated_open_or_click_meets_no_goal() -> None:
    for kind in ("email.opened", "email.clicked"):
        assert decide(event(kind, message_id="m-welcome", automated=True)) == GoalDecision(), kind
    assert decide(event("email.opened", message_id="m-welcome", automated=False)).met == ("engaged",)


def test_g14_a_criterion_that_counts_automated_hits_is_met_by_them() -> None:
    definition = automation(
        email("welcome"),
        goal("seen", {"type": "email", "actions": ["opened"], "count_automated": True}),
        goal("visited", {"type": "link.clicked", "links": ["lnk_1"], "count_automated": True}),
        goal("clicked", {"type": "link.clicked", "links": ["lnk_1"]}),
    )
    opened = event("email.opened", message_id="m-welcome", automated=True)
    assert decide(opened, definition=definition, at="welcome").met == ("seen",)
    clicked = event("link.clicked", link_id="lnk_1", automated=True)
    assert decide(clicked, definition=definition, at="welcome").met == ("visited",)
