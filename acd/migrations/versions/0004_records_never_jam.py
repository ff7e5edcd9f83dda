"""Records that never jam: agent events carry their own key (a retried write finds its
row instead of adding it twice) and rows the database refuses are kept as dead letters.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_events") as events:
        events.add_column(sa.Column("event_key", sa.String(32)))
        events.create_index("ix_agent_events_event_key", ["event_key"], unique=True)
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False, index=True),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("row", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dead_letters")
    with op.batch_alter_table("agent_events") as events:
        events.drop_index("ix_agent_events_event_key")
        events.drop_column("event_key")
