"""SPEC §1: a definition is validated before it is saved, and each error names
the step and the field. Pure: `shared.domain.definition.parse_definition`."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from shared.domain.definition import (
    Automation,
    DefinitionError,
    Problem,
    content_of,
    digest,
    parse_definition,
    warnings,
)
from shared.domain.steps.send_email import SendEmail

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).parent.parent / "examples" / "nurture.json"


def definition(*steps: Any, **fields: Any) -> dict[str, Any]:
    return {"name": "test", "steps": list(steps), **fields}


def email(step_id: str, subject: str = "Hi {{ contact.first_name }}", body: str = "Body") -> dict[str, Any]:
    return {"id": step_id, "type": "send_email", "subject": subject, "body": body}


def wait(step_id: str, duration: str = "P3D") -> dict[str, Any]:
    return {"id": step_id, "type": "wait", "duration": duration}


def tag(step_id: str, **options: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "add_tag", "tag": "t", **options}


def goal(step_id: str, *criteria: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "goal", "criteria": list(criteria or [TAG_BOUGHT]), **options}


TAG_BOUGHT = {"type": "tag.added", "tag": "bought"}


def problems(raw: Any) -> list[Problem]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(raw)
    return caught.value.problems


def only_problem(raw: Any) -> Problem:
    found = problems(raw)
    assert len(found) == 1, found
    return found[0]


# ---- valid definitions --------------------------------------------------------------------------


def test_the_example_definition_is_accepted() -> None:
    raw = json.loads(EXAMPLE.read_text())
    raw.pop("id")  # The API takes the automation id off before validating the definition.
    automation = parse_definition(raw)
    assert [s.id for s in automation.steps] == ["welcome", "pause", "followup", "purchased", "thanks"]
    assert [g.id for g in automation.goals()] == ["purchased"]
    assert automation.goals()[0].if_unmet == "wait"


EVERY_STEP = definition(
    email("welcome"),
    wait("pause", "PT10M"),
    {"id": "until", "type": "wait", "until": "2030-01-01T09:00:00+01:00"},
    {
        "id": "opened",
        "type": "wait_for_event",
        "criteria": [{"type": "email", "actions": ["opened"], "steps": ["welcome"]}],
        "timeout": "P3D",
        "on_timeout": "nudge",
    },
    {
        "id": "vip",
        "type": "if_else",
        "condition": {"all": [{"tag": "vip"}, {"not": {"attribute": "score", "op": "lt", "value": 10}}]},
        "then": "purchased",
        "else": "nudge",
    },
    {"id": "nudge", "type": "remove_tag", "tag": "cold"},
    {"id": "score", "type": "update_attribute", "attribute": "score", "op": "increment", "value": 5},
    goal(
        "purchased",
        TAG_BOUGHT,
        {"type": "email", "actions": ["clicked"], "steps": ["welcome"]},
        {"type": "link.clicked", "links": ["buy"]},
        {"type": "appointment", "calendar": "cal-1", "statuses": ["confirmed"]},
        if_unmet="wait",
        timeout="P30D",
        on_timeout="end",
    ),
    tag("thanks", next="end"),
    # A loop that waits on every turn is fine.
    wait("cooldown", "P1D"),
    {"id": "again", "type": "go_to", "target": "welcome"},
    {"id": "stop", "type": "end"},
    reentry="never",
)


def test_a_definition_using_every_step_type_is_accepted() -> None:
    automation = parse_definition(EVERY_STEP)
    assert automation.reentry == "never"
    assert [s.type for s in automation.steps] == [
        "send_email",
        "wait",
        "wait",
        "wait_for_event",
        "if_else",
        "remove_tag",
        "update_attribute",
        "goal",
        "add_tag",
        "wait",
        "go_to",
        "end",
    ]


def test_the_saved_form_of_a_definition_parses_again_to_the_same_automation() -> None:
    automation = parse_definition(EVERY_STEP)
    saved = automation.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert saved["steps"][1]["duration"] == "PT10M"
    assert saved["steps"][4]["else"] == "nudge"
    assert parse_definition(saved) == automation


def test_a_loop_through_a_wait_for_event_is_accepted() -> None:
    parse_definition(
        definition(
            tag("a"),
            {
                "id": "w",
                "type": "wait_for_event",
                "criteria": [{"type": "custom", "name": "visited"}],
                "timeout": "P1D",
                "on_event": "a",
                "on_timeout": "a",
            },
        )
    )


def test_successor_follows_list_order_then_next_and_ends_after_the_last_step() -> None:
    automation = parse_definition(
        definition(tag("a"), tag("b", next="d"), tag("c", next="end"), tag("d"), tag("e"))
    )
    assert automation.successor(0) == 1
    assert automation.successor(1) == 3  # `next` overrides list order
    assert automation.successor(2) is None  # `next: end` ends the enrollment
    assert automation.successor(3) == 4
    assert automation.successor(4) is None  # nothing after the last step


def test_a_goal_step_is_found_by_id_and_goals_are_listed_in_step_order() -> None:
    automation = parse_definition(definition(goal("g1"), wait("pause"), goal("g2"), tag("t")))
    assert isinstance(automation, Automation)
    assert [g.id for g in automation.goals()] == ["g1", "g2"]
    assert automation.index("g2") == 2


# ---- invalid definitions: one problem each, naming the step and the field ----------------------------

INVALID = {
    "unknown step type": (
        [tag("a"), {"id": "b", "type": "send_fax", "to": "x"}],
        ["steps", 1, "type"],
        "b",
        "unknown step type 'send_fax'",
    ),
    "duplicate id": ([tag("a"), wait("w"), tag("a")], ["steps", 2, "id"], "a", "duplicate id"),
    "next to a missing step": ([tag("a", next="nowhere"), tag("b")], ["steps", 0, "next"], "a", "'nowhere'"),
    "go_to a missing step": (
        [tag("a"), {"id": "jump", "type": "go_to", "target": "nowhere"}],
        ["steps", 1, "target"],
        "jump",
        "'nowhere'",
    ),
    "go_to end is not a step": (
        [tag("a"), {"id": "jump", "type": "go_to", "target": "end"}],
        ["steps", 1, "target"],
        "jump",
        "'end'",
    ),
    "if_else then to a missing step": (
        [{"id": "branch", "type": "if_else", "condition": {"tag": "x"}, "then": "nowhere"}, tag("a")],
        ["steps", 0, "then"],
        "branch",
        "'nowhere'",
    ),
    "if_else else to a missing step": (
        [{"id": "branch", "type": "if_else", "condition": {"tag": "x"}, "else": "nowhere"}, tag("a")],
        ["steps", 0, "else"],
        "branch",
        "'nowhere'",
    ),
    "wait_for_event on_event to a missing step": (
        [
            {
                "id": "w",
                "type": "wait_for_event",
                "criteria": [TAG_BOUGHT],
                "timeout": "P1D",
                "on_event": "nowhere",
            }
        ],
        ["steps", 0, "on_event"],
        "w",
        "'nowhere'",
    ),
    "wait_for_event on_timeout to a missing step": (
        [
            {
                "id": "w",
                "type": "wait_for_event",
                "criteria": [TAG_BOUGHT],
                "timeout": "P1D",
                "on_timeout": "nowhere",
            }
        ],
        ["steps", 0, "on_timeout"],
        "w",
        "'nowhere'",
    ),
    "goal on_timeout to a missing step": (
        [goal("g", if_unmet="wait", timeout="P1D", on_timeout="nowhere")],
        ["steps", 0, "on_timeout"],
        "g",
        "'nowhere'",
    ),
    "email goal naming a missing send step": (
        [
            email("welcome"),
            goal("g", {"type": "email", "actions": ["opened"], "steps": ["welcome", "ghost"]}),
        ],
        ["steps", 1, "criteria", 0, "steps"],
        "g",
        "'ghost'",
    ),
    "email goal naming a step that is not a send step": (
        [
            email("welcome"),
            wait("pause"),
            goal("g", TAG_BOUGHT, {"type": "email", "actions": ["clicked"], "steps": ["pause"]}),
        ],
        ["steps", 2, "criteria", 1, "steps"],
        "g",
        "no send_email step 'pause'",
    ),
    "wait_for_event email criterion naming a missing send step": (
        [
            {
                "id": "w",
                "type": "wait_for_event",
                "criteria": [{"type": "email", "actions": ["opened"], "steps": ["ghost"]}],
                "timeout": "P1D",
            }
        ],
        ["steps", 0, "criteria", 0, "steps"],
        "w",
        "'ghost'",
    ),
    "go_to loop that never waits": (
        [tag("a"), tag("b"), {"id": "back", "type": "go_to", "target": "a"}],
        ["steps", 2, "target"],
        "back",
        "loop a -> b -> back -> a never waits",
    ),
    "next loop that never waits": (
        [wait("pause"), tag("a"), tag("b", next="a")],
        ["steps", 2, "next"],
        "b",
        "loop a -> b -> a never waits",
    ),
    "step that jumps to itself": ([tag("a", next="a")], ["steps", 0, "next"], "a", "loop a -> a never waits"),
    "wait duration that does not parse": (
        [tag("a"), wait("pause", "3 days")],
        ["steps", 1, "duration"],
        "pause",
        "'3 days' is not an ISO 8601 duration",
    ),
    "wait duration in months": (
        [wait("pause", "P1M")],
        ["steps", 0, "duration"],
        "pause",
        "months and years",
    ),
    "zero wait duration": ([wait("pause", "PT0S")], ["steps", 0, "duration"], "pause", "longer than zero"),
    "goal timeout that does not parse": (
        [goal("g", if_unmet="wait", timeout="thirty days")],
        ["steps", 0, "timeout"],
        "g",
        "'thirty days'",
    ),
    "wait_for_event timeout that does not parse": (
        [{"id": "w", "type": "wait_for_event", "criteria": [TAG_BOUGHT], "timeout": "P1Y"}],
        ["steps", 0, "timeout"],
        "w",
        "months and years",
    ),
    "wait with neither duration nor until": (
        [{"id": "pause", "type": "wait"}],
        ["steps", 0, "duration"],
        "pause",
        "exactly one of duration, until and window",
    ),
    "wait with both duration and until": (
        [{"id": "pause", "type": "wait", "duration": "P1D", "until": "2030-01-01T00:00:00Z"}],
        ["steps", 0, "duration"],
        "pause",
        "exactly one of duration, until and window",
    ),
    "template syntax error in a subject": (
        [email("welcome", subject="Hi {{ contact.first_name ")],
        ["steps", 0, "subject"],
        "welcome",
        "template error on line 1",
    ),
    "template syntax error in a body": (
        [email("welcome", body="Hello\n{% if contact.vip %}VIP")],
        ["steps", 0, "body"],
        "welcome",
        "template error on line 2",
    ),
    "send_email without a body": (
        [{"id": "welcome", "type": "send_email", "subject": "Hi"}],
        ["steps", 0, "body"],
        "welcome",
        "Field required",
    ),
    "goal without criteria": (
        [{"id": "g", "type": "goal", "criteria": []}],
        ["steps", 0, "criteria"],
        "g",
        "at least 1 item",
    ),
    "goal timeout without if_unmet wait": (
        [goal("g", if_unmet="continue", timeout="P1D")],
        ["steps", 0, "timeout"],
        "g",
        "only to if_unmet 'wait'",
    ),
    "unknown field on a step": (
        [tag("a", colour="red")],
        ["steps", 0, "colour"],
        "a",
        "Extra inputs are not permitted",
    ),
}


@pytest.mark.parametrize(("steps", "loc", "step_id", "fragment"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_definition_is_rejected_naming_the_step_and_the_field(
    steps: list[dict[str, Any]], loc: list[str | int], step_id: str, fragment: str
) -> None:
    problem = only_problem(definition(*steps))
    assert problem.loc == loc
    assert problem.msg.startswith(f"step '{step_id}': "), problem.msg
    assert fragment in problem.msg


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        definition(
            tag("a", next="nowhere"),
            {"id": "jump", "type": "go_to", "target": "missing"},
            email("welcome", subject="{{ oops"),
        )
    )
    assert [(p.loc, p.msg.split(":")[0]) for p in found] == [
        (["steps", 0, "next"], "step 'a'"),
        (["steps", 1, "target"], "step 'jump'"),
        (["steps", 2, "subject"], "step 'welcome'"),
    ]


def test_the_error_text_names_each_location() -> None:
    with pytest.raises(DefinitionError, match=r"steps\.1\.target: step 'jump': no step 'missing'"):
        parse_definition(definition(tag("a"), {"id": "jump", "type": "go_to", "target": "missing"}))


def test_an_unknown_step_type_without_an_id_is_named_by_its_position() -> None:
    problem = only_problem(definition(tag("a"), {"type": "teleport"}))
    assert problem.loc == ["steps", 1, "type"]
    assert problem.msg.startswith("step '1': unknown step type 'teleport'")
    assert "send_email" in problem.msg  # the known types are listed


def test_a_definition_without_steps_is_rejected() -> None:
    assert only_problem(definition()).loc == ["steps"]
    assert only_problem({"name": "test"}).loc == ["steps"]


def test_a_step_id_outside_the_safe_alphabet_is_rejected() -> None:
    problem = only_problem(definition(tag("say hi")))
    assert problem.loc == ["steps", 0, "id"]
    assert problem.msg.startswith("step 'say hi': ")


# ---- locations, loops and limits ---------------------------------------------------------------------------


def test_a_loop_closed_by_an_if_else_branch_is_reported_at_that_branch() -> None:
    problem = only_problem(
        definition(tag("a"), {"id": "branch", "type": "if_else", "condition": {"tag": "x"}, "then": "a"})
    )
    assert problem.msg.startswith("step 'branch': loop a -> branch -> a never waits")
    assert problem.loc == ["steps", 1, "then"]


def test_a_loop_through_a_waiting_goals_timeout_is_accepted() -> None:
    # Taking on_timeout means the contact waited at the goal for `timeout`: the loop cannot spin.
    parse_definition(definition(tag("a"), goal("g", if_unmet="wait", timeout="P1D", on_timeout="a")))


def test_the_reserved_id_end_is_rejected_naming_the_step() -> None:
    problem = only_problem(definition(tag("a"), tag("end")))
    assert problem.loc == ["steps", 1, "id"]
    assert problem.msg.startswith("step 'end': ")


def test_a_criterion_missing_a_field_is_located_at_that_field() -> None:
    problem = only_problem(definition(goal("g", {"type": "tag.added"})))
    assert problem.msg.startswith("step 'g': ")
    assert problem.loc == ["steps", 0, "criteria", 0, "tag"]


def test_a_duration_too_long_to_represent_is_rejected_as_a_problem() -> None:
    problem = only_problem(definition(wait("pause", "P9999999999D")))
    assert problem.loc == ["steps", 0, "duration"]
    assert problem.msg.startswith("step 'pause': ")


def test_fractional_seconds_are_refused_so_a_saved_definition_parses_again_unchanged() -> None:
    problem = only_problem(definition(wait("blink", "PT0.5S")))
    assert problem.loc == ["steps", 0, "duration"]
    automation = parse_definition(definition(wait("blink", "PT90S")))
    saved = automation.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert parse_definition(saved) == automation


def test_a_send_saved_before_html_existed_keeps_its_digest() -> None:
    """Enrollments of versions saved before `html` carry digests of subject, body
    and sender only: their sends must still match."""
    step = SendEmail(id="s", type="send_email", subject="S", body="B")
    before = "sha256:" + hashlib.sha256(b'{"body":"B","sender":null,"subject":"S"}').hexdigest()
    assert digest(content_of(step)) == before
    with_html = SendEmail(id="s", type="send_email", subject="S", body="B", html="<p>B</p>")
    assert digest(content_of(with_html)) != before


def test_a_template_printing_a_contact_field_without_a_default_is_a_warning_not_a_problem() -> None:
    automation = parse_definition(
        {
            "name": "w",
            "steps": [
                {
                    "id": "hi",
                    "type": "send_email",
                    "subject": "Hi {{ contact.first_name }}",
                    "body": "{{ contact.email }}",
                },
                {
                    "id": "safe",
                    "type": "send_email",
                    "subject": "{{ contact.first_name | default('there') }}",
                    "body": "{% if contact.company %}At {{ contact.company }}{% endif %} {{ contact.city or 'near you' }}",
                    "html": "<p>{{ contact.plan }}</p>",
                },
            ],
        }
    )
    assert warnings(automation) == [
        "step 'hi': contact.first_name is printed without a default; contacts without it are skipped (missing merge field)",
        "step 'safe': contact.plan is printed without a default; contacts without it are skipped (missing merge field)",
    ]
