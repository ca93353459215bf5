"""Occupants record why their decision came out so (the one decision path's reason) and
whether a document read or the gallery search decided it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("occupants") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("occupants") as batch:
        batch.drop_column("source")
        batch.drop_column("reason")
