"""The shared 1:N index's outbox: enrolment and purge changes, applied by the relay.

Every live template at upgrade time is queued as a ``put``, so a deployment that later
switches to a shared index (``index_backend = "milvus"``) replays its whole gallery.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    outbox = op.create_table(
        "index_outbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("gallery_id", sa.String(length=36), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("enrolment_id", sa.String(length=36), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("template_blob", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_index_outbox")),
    )
    op.create_index("ix_index_outbox_pending", "index_outbox",
                    ["gallery_id", "applied_at", "seq"])
    enrolments = sa.table("enrolments", sa.column("id"), sa.column("gallery_id"),
                          sa.column("template_blob"), sa.column("template_model"),
                          sa.column("status"), sa.column("enrolled_at"))
    now = datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC, like every column
    live = op.get_bind().execute(
        sa.select(enrolments.c.id, enrolments.c.gallery_id, enrolments.c.template_blob,
                  enrolments.c.template_model)
        .where(enrolments.c.status == "enrolled", enrolments.c.template_blob.is_not(None),
               enrolments.c.template_model.is_not(None))
        .order_by(enrolments.c.enrolled_at, enrolments.c.id)).all()
    if live:
        op.bulk_insert(outbox, [
            {"gallery_id": g, "model": m, "enrolment_id": e, "op": "put",
             "template_blob": b, "created_at": now, "applied_at": None}
            for e, g, b, m in live])


def downgrade() -> None:
    op.drop_index("ix_index_outbox_pending", table_name="index_outbox")
    op.drop_table("index_outbox")
