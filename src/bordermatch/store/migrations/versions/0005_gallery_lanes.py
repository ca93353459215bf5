"""Galleries name the lanes that serve them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing galleries get no lanes: device and partner keys are refused there until an
    # administrator assigns lanes (PUT /v1/galleries/{id}/lanes), the safe reading of a
    # gallery that never said which gates serve it.
    with op.batch_alter_table("galleries") as batch:
        batch.add_column(sa.Column("lanes", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("galleries") as batch:
        batch.drop_column("lanes")
