"""Occupants record why their decision came out so (the one decision path's reason) and
whether a document read or the gallery search decided it; enrolments become reference
photos, each with its document, several per traveller and gallery.

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
    with op.batch_alter_table("enrolments") as batch:
        batch.add_column(sa.Column("document_type", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("document_number", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("nationality", sa.String(length=3), nullable=True))
        batch.drop_constraint("uq_enrolment", type_="unique")
        batch.create_unique_constraint("uq_enrolment_document",
                                       ["gallery_id", "document_number", "nationality"])
    # Existing enrolments came from the traveller's one document.
    op.execute("UPDATE enrolments SET document_type = (SELECT document_type FROM travelers "
               "WHERE travelers.id = enrolments.traveler_id), document_number = (SELECT "
               "document_number FROM travelers WHERE travelers.id = enrolments.traveler_id), "
               "nationality = (SELECT nationality FROM travelers "
               "WHERE travelers.id = enrolments.traveler_id)")


def downgrade() -> None:
    with op.batch_alter_table("enrolments") as batch:
        batch.drop_constraint("uq_enrolment_document", type_="unique")
        batch.create_unique_constraint("uq_enrolment", ["gallery_id", "traveler_id"])
        batch.drop_column("nationality")
        batch.drop_column("document_number")
        batch.drop_column("document_type")
    with op.batch_alter_table("occupants") as batch:
        batch.drop_column("source")
        batch.drop_column("reason")
