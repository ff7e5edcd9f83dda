"""The ticket desk: who claimed a ticket, what was done, and every move in a history.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as tickets:
        tickets.add_column(sa.Column("claimed_by", sa.String(128)))
        tickets.add_column(sa.Column("resolution", sa.Text))
        tickets.add_column(sa.Column("updated_at", sa.Float))
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(32), sa.ForeignKey("tickets.id"), nullable=False, index=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("note", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("ticket_events")
    with op.batch_alter_table("tickets") as tickets:
        for column in ("updated_at", "resolution", "claimed_by"):
            tickets.drop_column(column)
