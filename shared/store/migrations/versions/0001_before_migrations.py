"""goalflow's schema as `create_all` made it before migrations.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _text(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.JSON(none_as_null=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "appointments",
        _text("id"), _text("contact_id"), _text("calendar_id"), _text("status"), _time("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )  # fmt: skip
    op.create_index("ix_appointments_contact_id", "appointments", ["contact_id"])
    op.create_table(
        "automations",
        _text("id"), sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False), _time("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )  # fmt: skip
    op.create_table(
        "contacts",
        _text("id"), _text("email", True), _text("phone", True), _text("first_name", True),
        _text("last_name", True), _text("timezone", True), _json("attributes"), _json("tags"),
        sa.Column("unsubscribed", sa.Boolean(), nullable=False),
        sa.Column("blocklisted", sa.Boolean(), nullable=False), _time("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )  # fmt: skip
    op.create_table(
        "enrollments",
        _text("id"), _text("automation_id"), sa.Column("version", sa.Integer(), nullable=False),
        _text("contact_id"), sa.Column("seq", sa.Integer(), nullable=False), _text("status"),
        _text("end_reason", True), _time("enrolled_at"), _time("ended_at", True), _json("final_state", True),
        sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("automation_id", "contact_id", "seq"),
    )  # fmt: skip
    for column in ("automation_id", "contact_id", "status"):
        op.create_index(f"ix_enrollments_{column}", "enrollments", [column])
    op.create_table(
        "events",
        _text("id"), _text("contact_id"), _text("type"), _time("occurred_at"), _json("data"),
        _time("received_at"), _json("delivered_to", True),
        sa.PrimaryKeyConstraint("id"),
    )  # fmt: skip
    op.create_index("ix_events_contact_id", "events", ["contact_id"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
    op.create_table(
        "messages",
        _text("message_id"), _text("idempotency_key"), _text("enrollment_id"), _text("step_id"),
        _text("contact_id"), _text("channel"), _text("to", True), _text("sender", True), _text("subject"),
        _text("body"), _time("created_at"),
        sa.PrimaryKeyConstraint("message_id"), sa.UniqueConstraint("idempotency_key"),
    )  # fmt: skip
    op.create_index("ix_messages_contact_id", "messages", ["contact_id"])
    op.create_index("ix_messages_enrollment_id", "messages", ["enrollment_id"])
    op.create_table("step_runs", _text("key"), _json("result"), sa.PrimaryKeyConstraint("key"))
    op.create_table(
        "automation_versions",
        _text("automation_id"), sa.Column("version", sa.Integer(), nullable=False), _json("definition"),
        _time("created_at"),
        sa.ForeignKeyConstraint(["automation_id"], ["automations.id"]),
        sa.PrimaryKeyConstraint("automation_id", "version"),
    )  # fmt: skip


def downgrade() -> None:
    for table in ("automation_versions", "step_runs", "messages", "events", "enrollments", "contacts",
                  "automations", "appointments"):  # fmt: skip
        op.drop_table(table)
