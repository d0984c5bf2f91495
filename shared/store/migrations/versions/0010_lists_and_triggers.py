"""Lists and their members; triggers: the index of the event types each version's
triggers read, the firings (one per automation, event and contact), and what
started each enrollment.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lists",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "list_members",
        sa.Column("list_id", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["lists.id"]),
        sa.PrimaryKeyConstraint("list_id", "contact_id"),
    )
    op.create_index("ix_list_members_contact_id", "list_members", ["contact_id"])
    op.create_table(
        "automation_triggers",
        sa.Column("automation_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("automation_id", "version", "event_type"),
    )
    op.create_index("ix_automation_triggers_event_type", "automation_triggers", ["event_type"])
    op.create_table(
        "trigger_firings",
        sa.Column("automation_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("enrollment_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("automation_id", "event_id", "contact_id"),
    )
    op.create_index("ix_trigger_firings_status", "trigger_firings", ["status"])
    with op.batch_alter_table("enrollments") as table:
        table.add_column(sa.Column("entered_by", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrollments") as table:
        table.drop_column("entered_by")
    op.drop_table("trigger_firings")
    op.drop_table("automation_triggers")
    op.drop_table("list_members")
    op.drop_table("lists")
