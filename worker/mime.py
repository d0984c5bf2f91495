"""The message as it goes out: text and HTML as multipart/alternative, and the
headers that let replies, unsubscribes and the provider's webhooks find it."""

import json
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from worker.email import OutgoingEmail


def domain_of(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "goalflow.localhost"


def correlation_headers(provider: str, message_id: str, ses_configuration_set: str | None) -> dict[str, str]:
    """What the provider's webhooks carry back, so its events find the message."""
    match provider:
        case "mailgun":
            return {"X-Mailgun-Variables": json.dumps({"goalflow_message_id": message_id})}
        case "sendgrid":
            return {"X-SMTPAPI": json.dumps({"unique_args": {"goalflow_message_id": message_id}})}
        case "postmark":
            return {"X-PM-Metadata-goalflow_message_id": message_id}
        case "ses":
            # SES replaces the Message-ID: the tag is what correlates.
            tags = {"X-SES-MESSAGE-TAGS": f"goalflow_message_id={message_id}"}
            return tags | (
                {"X-SES-CONFIGURATION-SET": ses_configuration_set} if ses_configuration_set else {}
            )
    return {}


def build(
    email: OutgoingEmail,
    message_id: str,
    sender: str,
    unsubscribe_url: str | None,
    provider: str = "smtp",
    ses_configuration_set: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{message_id}@{domain_of(sender)}>"
    message["X-Goalflow-Message-Id"] = message_id
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    for name, value in correlation_headers(provider, message_id, ses_configuration_set).items():
        message[name] = value
    message.set_content(email.body)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    return message
