"""Booth and kiosk document reads.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_reads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("encounter_id", sa.String(length=36), nullable=False),
        sa.Column("occupant_id", sa.String(length=36), nullable=False),
        sa.Column("traveler_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("document_type", sa.String(length=32), nullable=False),
        sa.Column("document_number", sa.String(length=64), nullable=False),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("issuing_state", sa.String(length=3), nullable=False),
        sa.Column("expiry_date", sa.String(length=10), nullable=True),
        sa.Column("expired", sa.Boolean(), nullable=False),
        sa.Column("mrz_valid", sa.Boolean(), nullable=False),
        sa.Column("mrz_checks", sa.JSON(), nullable=False),
        sa.Column("passive_auth", sa.String(length=16), nullable=True),
        sa.Column("passive_auth_details", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("face_decision", sa.String(length=24), nullable=True),
        sa.Column("photo_blob", sa.String(length=80), nullable=True),
        sa.Column("purge_after", sa.DateTime(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["encounter_id"], ["encounters.id"],
                                name=op.f("fk_document_reads_encounter_id_encounters")),
        sa.ForeignKeyConstraint(["occupant_id"], ["occupants.id"],
                                name=op.f("fk_document_reads_occupant_id_occupants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_reads")),
    )
    with op.batch_alter_table("document_reads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_reads_encounter_id"), ["encounter_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_document_reads_traveler_id"), ["traveler_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_document_reads_purge_after"), ["purge_after"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("document_reads")
