"""SMS, WhatsApp and notify in the pure domain: Twilio's request signatures,
its opt-out words, the sms criterion, the steps' definition checks, and the
sms events' data."""

from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.criteria import SmsCriterion, matches
from shared.domain.definition import DefinitionError, Problem, parse_definition, warnings
from shared.domain.events import Event
from shared.domain.twilio import OPT_IN_WORDS, OPT_OUT_WORDS, inbound_event_type, signature, verified
from tests.twilio import sign

pytestmark = pytest.mark.unit

# Twilio's published example, verbatim: the auth token, URL, parameters and
# X-Twilio-Signature of twilio-python's tests/unit/test_request_validator.py
# (github.com/twilio/twilio-python, at 306691e), which Twilio's own docs show too
# ("Validate Incoming Requests", twilio-php's validation.rst).
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
# The same file: a parameter given more than once (sorted by name, then value, once each).
DUPLICATES = [
    ("Sid", "CA123"),
    ("SidAccount", "AC123"),
    ("Digits", "5678"),
    ("Digits", "1234"),
    ("Digits", "1234"),
]
DUPLICATES_EXPECTED = "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_signatures_match_twilios_published_example() -> None:
    assert signature(TOKEN, URL, list(PARAMS.items())) == EXPECTED
    assert sign(TOKEN, URL, PARAMS) == EXPECTED  # The tests' own signer signs as Twilio does.
    assert signature(TOKEN, URL, DUPLICATES) == DUPLICATES_EXPECTED
    assert verified(TOKEN, URL, list(PARAMS.items()), EXPECTED)


def test_a_url_is_accepted_signed_with_or_without_its_port_as_twilio_python_does() -> None:
    # twilio-python's test_validation_removes_port_on_https … adds_port_on_http, their signatures verbatim.
    params = list(PARAMS.items())
    assert verified(TOKEN, URL.replace(".com", ".com:1234"), params, EXPECTED)
    assert verified(TOKEN, URL, params, "kvajT1Ptam85bY51eRf/AJRuM3w=")  # Signed with :443.
    assert verified(TOKEN, URL.replace("https", "http"), params, "0ZXoZLH/DfblKGATFgpif+LLRf4=")  # With :80.
    with_port = URL.replace(".com", ".com:1234").replace("https", "http")
    assert verified(TOKEN, with_port, params, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")


@pytest.mark.parametrize(
    ("token", "url", "params", "claimed"),
    [
        ("54321", URL, PARAMS, EXPECTED),  # Another account's token.
        (TOKEN, URL.replace("foo=1", "foo=2"), PARAMS, EXPECTED),  # Another URL.
        (TOKEN, URL, {**PARAMS, "Digits": "4321"}, EXPECTED),  # A parameter changed.
        (TOKEN, URL, {**PARAMS, "Body": "STOP"}, EXPECTED),  # One added.
        (TOKEN, URL, PARAMS, None),
        (TOKEN, URL, PARAMS, ""),
        (TOKEN, URL, PARAMS, EXPECTED.lower()),
    ],
)
def test_anything_else_is_not_twilios_signature(
    token: str, url: str, params: dict[str, str], claimed: str | None
) -> None:
    assert not verified(token, url, list(params.items()), claimed)


def test_twilios_opt_out_and_opt_in_words_as_the_whole_message_in_any_case() -> None:
    assert OPT_OUT_WORDS == {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
    assert OPT_IN_WORDS == {"START", "UNSTOP", "YES"}
    for word in OPT_OUT_WORDS:
        assert inbound_event_type(word) == inbound_event_type(f" {word.lower()}\n") == "sms.unsubscribed"
    for word in OPT_IN_WORDS:
        assert inbound_event_type(word.capitalize()) == "sms.resubscribed"
    for reply in ("Stop please", "yes, at 3", "HELP", "", "STOP!"):
        assert inbound_event_type(reply) == "sms.replied", reply
    # Advanced Opt-Out's own keywords arrive with OptOutType; HELP is no opt-out.
    assert inbound_event_type("BASTA", "STOP") == "sms.unsubscribed"
    assert inbound_event_type("ALLONS", "START") == "sms.resubscribed"
    assert inbound_event_type("INFO", "HELP") == "sms.replied"


SENT = {"m-ask": "ask", "m-promo": "promo", "m-mail": "welcome"}


def event(kind: str, **data: Any) -> Event:
    return Event(id="ev", contact_id="ct", type=kind, data=data)  # type: ignore[arg-type]


def test_an_sms_criterion_counts_events_about_this_enrollments_texts_only() -> None:
    replied = SmsCriterion(type="sms", actions=["replied"])
    assert matches(replied, event("sms.replied", message_id="m-ask", channel="sms"), SENT)
    assert matches(replied, event("sms.replied", message_id="m-promo", channel="whatsapp"), SENT)
    # G8: a reply to no message of this enrollment, or about another one's.
    assert not matches(replied, event("sms.replied", channel="sms"), SENT)
    assert not matches(replied, event("sms.replied", message_id="m-elsewhere"), SENT)
    assert not matches(replied, event("sms.delivered", message_id="m-ask"), SENT)
    assert not matches(replied, event("email.replied", message_id="m-ask"), SENT)
    only_ask = SmsCriterion(type="sms", actions=["delivered", "unsubscribed"], steps=["ask"])
    assert matches(only_ask, event("sms.delivered", message_id="m-ask"), SENT)
    assert matches(only_ask, event("sms.unsubscribed", message_id="m-ask"), SENT)
    assert not matches(only_ask, event("sms.delivered", message_id="m-promo"), SENT)


def problems(*steps: dict[str, Any]) -> list[Problem]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition({"name": "test", "steps": list(steps)})
    return caught.value.problems


def test_each_new_step_is_checked_naming_its_field() -> None:
    assert problems({"id": "w", "type": "send_whatsapp"}) == [
        Problem(loc=["steps", 0, "body"], msg="step 'w': a body, a template, or both are needed")
    ]
    [bad_sid] = problems({"id": "w", "type": "send_whatsapp", "template": "HX123"})
    assert bad_sid.loc == ["steps", 0, "template"] and "HX[0-9a-fA-F]{32}" in bad_sid.msg
    assert problems({"id": "w", "type": "send_whatsapp", "body": "Hi", "variables": {"1": "{{ x"}}) == [
        Problem(loc=["steps", 0, "variables"], msg="step 'w': variables fill a template, and there is none"),
        Problem(
            loc=["steps", 0, "variables", "1"],
            msg="step 'w': template error on line 1: unexpected end of template, expected 'end of print statement'.",
        ),
    ]
    [number] = problems({"id": "s", "type": "send_sms", "body": "Hi", "sender": "415-555-0100"})
    assert number.loc == ["steps", 0, "sender"] and number.msg.startswith(
        "step 's': String should match pattern"
    )
    [syntax] = problems({"id": "s", "type": "send_sms", "body": "Hi {{ contact.first_name"})
    assert syntax.loc == ["steps", 0, "body"] and "template error on line 1" in syntax.msg
    [nobody] = problems({"id": "n", "type": "notify", "to": [], "subject": "S", "body": "B"})
    assert nobody.loc == ["steps", 0, "to"]
    [address] = problems(
        {"id": "n", "type": "notify", "to": ["a@b.test, c@d.test"], "subject": "S", "body": "B"}
    )
    assert address.loc == ["steps", 0, "to", 0]
    criterion = {"type": "sms", "actions": ["replied"], "steps": ["hello"]}
    assert problems(
        {"id": "hello", "type": "send_email", "subject": "S", "body": "B"},
        {"id": "g", "type": "goal", "criteria": [criterion]},
    ) == [
        Problem(
            loc=["steps", 1, "criteria", 0, "steps"],
            msg="step 'g': no send_sms or send_whatsapp step 'hello'",
        )
    ]


def test_saving_warns_of_each_field_a_text_prints_without_a_default() -> None:
    automation = parse_definition(
        {
            "name": "test",
            "steps": [
                # A contact texted has a phone; an email address it may lack.
                {"id": "s", "type": "send_sms", "body": "{{ contact.phone }} {{ contact.email }}"},
                {
                    "id": "w",
                    "type": "send_whatsapp",
                    "template": "HX" + "0" * 32,
                    "variables": {"1": "{{ contact.city }}"},
                },
                {
                    "id": "n",
                    "type": "notify",
                    "to": ["a@b.test"],
                    "subject": "{{ contact.first_name | default('') }}",
                    "body": "{{ contact.id }}",
                },
                {
                    "id": "g",
                    "type": "goal",
                    "criteria": [{"type": "sms", "actions": ["replied"], "steps": ["s", "w"]}],
                },
            ],
        }
    )
    assert [w.split(" is printed")[0] for w in warnings(automation)] == [
        "step 's': contact.email",
        "step 'w': contact.city",
    ]


def test_sms_events_carry_their_message_and_a_known_channel() -> None:
    with pytest.raises(ValidationError, match=r"data\.message_id is required for sms\.delivered events"):
        event("sms.delivered", channel="sms")
    with pytest.raises(ValidationError, match=r"data\.channel must be one of sms, whatsapp"):
        event("sms.replied", channel="email")
    with pytest.raises(ValidationError, match=r"data\.channel must be one of sms, whatsapp"):
        event("sms.unsubscribed", channel=None)
    assert event("sms.replied").data == {}  # A text may answer no message of ours.
