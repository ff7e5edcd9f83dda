"""The caller's number on each call record, and the indexes that find a number's calls
and tickets (the agent panel shows the caller's earlier calls and open tickets).

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as calls:
        calls.add_column(sa.Column("caller", sa.String(64)))
        calls.create_index("ix_calls_caller", ["caller"])
    with op.batch_alter_table("tickets") as tickets:
        tickets.create_index("ix_tickets_caller", ["caller"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as tickets:
        tickets.drop_index("ix_tickets_caller")
    with op.batch_alter_table("calls") as calls:
        calls.drop_index("ix_calls_caller")
        calls.drop_column("caller")
