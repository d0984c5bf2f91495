"""SMS and WhatsApp: contacts found by phone, messages' Twilio SID and template,
senders that are phone numbers, and the messages contacts send us.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_contacts_phone", "contacts", ["phone"])
    with op.batch_alter_table("messages") as table:
        table.add_column(sa.Column("template", sa.String(), nullable=True))
        table.add_column(sa.Column("provider_id", sa.String(), nullable=True))
        table.create_index("ix_messages_provider_id", ["provider_id"])
    with op.batch_alter_table("senders") as table:
        table.alter_column("email", new_column_name="address")
    op.create_table(
        "inbound_messages",
        sa.Column("sid", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    op.create_index("ix_inbound_messages_number", "inbound_messages", ["number"])


def downgrade() -> None:
    op.drop_table("inbound_messages")
    with op.batch_alter_table("senders") as table:
        table.alter_column("address", new_column_name="email")
    with op.batch_alter_table("messages") as table:
        table.drop_index("ix_messages_provider_id")
        table.drop_column("provider_id")
        table.drop_column("template")
    op.drop_index("ix_contacts_phone", "contacts")
