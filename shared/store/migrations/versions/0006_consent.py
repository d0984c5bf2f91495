"""Contacts' consent per channel; an unsubscribed contact's email consent says so.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as table:
        table.add_column(
            sa.Column("consent", sa.JSON(none_as_null=True), server_default="{}", nullable=False)
        )
    op.execute("""UPDATE contacts SET consent = '{"email": "unsubscribed"}' WHERE unsubscribed""")


def downgrade() -> None:
    with op.batch_alter_table("contacts") as table:
        table.drop_column("consent")
