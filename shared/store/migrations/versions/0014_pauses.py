"""Pausing automations: the flag, the pause count, the last resume's
`stale_after`, and the enrollments whose sends a pause holds.

Revision ID: 0014
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place: batch mode would copy `automations`, which its versions' foreign keys forbid.
    op.add_column("automations", sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("automations", sa.Column("pauses", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("automations", sa.Column("stale_after_seconds", sa.Integer(), nullable=True))
    op.create_table(
        "held_sends",
        sa.Column("enrollment_id", sa.String(), nullable=False),
        sa.Column("automation_id", sa.String(), nullable=False),
        sa.Column("step_id", sa.String(), nullable=False),
        sa.Column("pause", sa.Integer(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("enrollment_id"),
    )
    op.create_index("ix_held_sends_automation_id", "held_sends", ["automation_id"])


def downgrade() -> None:
    op.drop_table("held_sends")
    for column in ("stale_after_seconds", "pauses", "paused"):
        op.drop_column("automations", column)
