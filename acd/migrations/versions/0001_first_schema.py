"""The first release's records: one row per call, one per agent state change.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("queue", sa.String(64), nullable=False, index=True),
        sa.Column("enqueued_at", sa.Float, nullable=False, index=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("requirements", sa.JSON, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(16), index=True),
        sa.Column("answered_at", sa.Float),
        sa.Column("ended_at", sa.Float, nullable=False),
        sa.Column("waited", sa.Float, nullable=False),
        sa.Column("talk_time", sa.Float),
        sa.Column("ended_by", sa.String(8)),
        sa.Column("missed_offers", sa.Integer, nullable=False),
        sa.Column("exit_action", sa.String(32)),
        sa.Column("position", sa.Integer),
        sa.Column("original_position", sa.Integer),
        sa.Column("satisfaction", sa.Integer),
        sa.Column("callback", sa.Text),
    )
    op.create_table(
        "agent_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(16), nullable=False, index=True),
        sa.Column("at", sa.Float, nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("previous", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
    )


def downgrade() -> None:
    op.drop_table("agent_events")
    op.drop_table("calls")
