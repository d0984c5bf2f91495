"""Phone numbers and the addresses Twilio writes them in: E.164 (`+14155550123`)
for SMS, `whatsapp:+14155550123` for WhatsApp."""

# E.164: a plus, a country code that does not start with 0, at most 15 digits.
E164 = r"^\+[1-9][0-9]{1,14}$"
TEXT_CHANNELS = ("sms", "whatsapp")
_WHATSAPP = "whatsapp:"


def address(channel: str, number: str) -> str:
    """How Twilio names `number` on `channel`."""
    return _WHATSAPP + number if channel == "whatsapp" else number


def channel_of(address: str) -> tuple[str, str]:
    """The channel of a Twilio address, and its bare number."""
    if address.startswith(_WHATSAPP):
        return "whatsapp", address.removeprefix(_WHATSAPP)
    return "sms", address
