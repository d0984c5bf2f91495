"""What providers' webhooks are checked with, as the process was configured."""

from dataclasses import dataclass, field

from shared.services.sns import AmazonSns


@dataclass
class WebhookKeys:
    """Each provider's key; None refuses that provider's posts (401)."""

    mailgun_signing_key: str | None = None
    sendgrid_public_key: str | None = None
    # Inbound Parse posts are unsigned: their URL carries this as `?key=`.
    sendgrid_inbound_key: str | None = None
    postmark_user: str | None = None
    postmark_password: str | None = None
    sns: AmazonSns = field(default_factory=AmazonSns)
