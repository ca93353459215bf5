"""API keys of devices and partners name the lanes they may speak for.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing device keys get no lanes: they are refused until reissued with --lane,
    # which is the safe reading of a key that was never bound.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("lanes", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("lanes")
