"""Messages: their HTML part, and whether the transport accepted them yet.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as table:
        table.add_column(sa.Column("html", sa.String(), nullable=True))
        table.add_column(sa.Column("status", sa.String(), server_default="sent", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("messages") as table:
        table.drop_column("status")
        table.drop_column("html")
