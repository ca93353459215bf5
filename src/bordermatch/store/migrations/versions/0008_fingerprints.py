"""Fingerprints on handheld devices: the encrypted watchlist, searches, probes, and the
review item of a hit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watchlist_subjects",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("enrolled_by", sa.String(length=200), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_subjects")),
    )
    op.create_table(
        "watchlist_fingers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("template_blob", sa.String(length=80), nullable=False),
        sa.Column("image_blob", sa.String(length=80), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["watchlist_subjects.id"],
                                name=op.f("fk_watchlist_fingers_subject_id_watchlist_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_fingers")),
        sa.UniqueConstraint("subject_id", "position", name="uq_watchlist_finger"),
    )
    op.create_index(op.f("ix_watchlist_fingers_subject_id"), "watchlist_fingers",
                    ["subject_id"])
    op.create_index(op.f("ix_watchlist_fingers_enrolled_at"), "watchlist_fingers",
                    ["enrolled_at"])
    op.create_table(
        "fingerprint_searches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_key_id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("traveler_id", sa.String(length=64), nullable=True),
        sa.Column("citizen", sa.Boolean(), nullable=True),
        sa.Column("comparisons", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fingerprint_searches")),
        sa.UniqueConstraint("device_key_id", "idempotency_key",
                            name="uq_fingerprint_search_idempotency"),
    )
    op.create_index(op.f("ix_fingerprint_searches_created_at"), "fingerprint_searches",
                    ["created_at"])
    op.create_table(
        "fingerprint_probes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("search_id", sa.String(length=36), nullable=False),
        sa.Column("finger", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("matched_position", sa.Integer(), nullable=True),
        sa.Column("image_blob", sa.String(length=80), nullable=True),
        sa.Column("template_blob", sa.String(length=80), nullable=True),
        sa.Column("purge_after", sa.DateTime(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["search_id"], ["fingerprint_searches.id"],
            name=op.f("fk_fingerprint_probes_search_id_fingerprint_searches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fingerprint_probes")),
    )
    op.create_index(op.f("ix_fingerprint_probes_search_id"), "fingerprint_probes",
                    ["search_id"])
    op.create_index(op.f("ix_fingerprint_probes_purge_after"), "fingerprint_probes",
                    ["purge_after"])
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("fingerprint_search_id", sa.String(length=36),
                                   nullable=True))
        batch.create_foreign_key(
            op.f("fk_review_items_fingerprint_search_id_fingerprint_searches"),
            "fingerprint_searches", ["fingerprint_search_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.drop_constraint(
            op.f("fk_review_items_fingerprint_search_id_fingerprint_searches"),
            type_="foreignkey")
        batch.drop_column("fingerprint_search_id")
    op.drop_table("fingerprint_probes")
    op.drop_table("fingerprint_searches")
    op.drop_table("watchlist_fingers")
    op.drop_table("watchlist_subjects")
