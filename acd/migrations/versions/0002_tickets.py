"""Back-office tickets (escalations by agents and max-wait exits).

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.Float, nullable=False, index=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(64), index=True),
        sa.Column("primary_owner", sa.String(128)),
        sa.Column("alternate_owner", sa.String(128)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(16), index=True),
        sa.Column("caller", sa.String(64)),
        sa.Column("note", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tickets")
