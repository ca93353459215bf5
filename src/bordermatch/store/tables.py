"""The database schema (SQLAlchemy 2.0). Queries live in ``repo.py``; API shapes in ``api/``.

Images and templates never sit in these tables: rows hold opaque blob ids of the encrypted
blob store. ``orphan_candidates`` lets the sweep remove blobs that a crash left unreferenced
(see docs/service.md, "Crash safety").
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (SQLite has no time zones), always returned aware in UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Gallery(Base):
    __tablename__ = "galleries"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # crossing | flight
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    # Bumped on every enrolment or purge so in-process search caches know they are stale.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # The lanes (gates, vehicle lanes, "gate:<gate>" boarding desks) whose device and partner
    # keys may submit here; a bound key from any other lane is refused (store/keys.py).
    lanes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Traveler(Base):
    __tablename__ = "travelers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    given_names: Mapped[str] = mapped_column(String(200))
    surname: Mapped[str] = mapped_column(String(200))
    document_type: Mapped[str] = mapped_column(String(32))
    document_number: Mapped[str] = mapped_column(String(64))
    nationality: Mapped[str] = mapped_column(String(3))
    citizen: Mapped[bool] = mapped_column(Boolean)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Enrolment(Base):
    """One reference photo of a traveller in a gallery, with the document it came from (none
    for a photo-only reference, e.g. an earlier encounter): a traveller may have several."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("gallery_id", "document_number", "nationality",
                                       name="uq_enrolment_document"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    gallery_id: Mapped[str] = mapped_column(ForeignKey("galleries.id"), index=True)
    traveler_id: Mapped[str] = mapped_column(ForeignKey("travelers.id"), index=True)
    document_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    document_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nationality: Mapped[str | None] = mapped_column(String(3), nullable=True)
    photo_blob: Mapped[str | None] = mapped_column(String(80), nullable=True)
    template_blob: Mapped[str | None] = mapped_column(String(80), nullable=True)
    template_model: Mapped[str | None] = mapped_column(String(32), nullable=True)
    quality: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # enrolled | opted_out | purged
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purge_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (
        UniqueConstraint("device_key_id", "idempotency_key", name="uq_encounter_idempotency"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # vehicle | gate | opt_out
    gallery_id: Mapped[str] = mapped_column(ForeignKey("galleries.id"), index=True)
    lane: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))  # entry | exit
    device_key_id: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    event_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Occupant(Base):
    __tablename__ = "occupants"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    track_id: Mapped[int] = mapped_column(Integer)
    row: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seat: Mapped[str | None] = mapped_column(String(32), nullable=True)
    traveler_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    decision: Mapped[str] = mapped_column(String(24))
    # Why the decision came out so (bordermatch.types.Reason), for the reviewing officer.
    reason: Mapped[str | None] = mapped_column(String(24), nullable=True)
    # "document": verified 1:few against a document read; "gallery": the 1:N search.
    source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    quality: Mapped[float | None] = mapped_column(Float, nullable=True)
    capture_blob: Mapped[str | None] = mapped_column(String(80), nullable=True)
    template_blob: Mapped[str | None] = mapped_column(String(80), nullable=True)
    purge_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Crossing(Base):
    __tablename__ = "crossings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    traveler_id: Mapped[str] = mapped_column(ForeignKey("travelers.id"), index=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    occupant_id: Mapped[str | None] = mapped_column(ForeignKey("occupants.id"), nullable=True)
    gallery_id: Mapped[str] = mapped_column(ForeignKey("galleries.id"))
    direction: Mapped[str] = mapped_column(String(8))
    lane: Mapped[str] = mapped_column(String(64))
    # biometric | officer_review | manual_inspection
    method: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewItem(Base):
    __tablename__ = "review_items"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # alias | encounter | manual_inspection | unmatched_document
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    gallery_id: Mapped[str | None] = mapped_column(ForeignKey("galleries.id"), nullable=True)
    encounter_id: Mapped[str | None] = mapped_column(ForeignKey("encounters.id"), nullable=True)
    occupant_id: Mapped[str | None] = mapped_column(ForeignKey("occupants.id"), nullable=True)
    traveler_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    other_traveler_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The decision that raised the item, in the one decision path's terms (match.decide):
    # reason, threshold, rate, target, runner_up (score), source. None for older items.
    basis: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # A watchlist hit of a handheld fingerprint search (kind "fingerprint_hit").
    fingerprint_search_id: Mapped[str | None] = mapped_column(
        ForeignKey("fingerprint_searches.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class DocumentRead(Base):
    """A travel document read at a booth or kiosk (chip or MRZ + data-page photo), its checks
    and the document's photo (a blob, under the same retention as every photo)."""

    __tablename__ = "document_reads"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    occupant_id: Mapped[str] = mapped_column(ForeignKey("occupants.id"))
    traveler_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    source: Mapped[str] = mapped_column(String(8))  # chip | mrz
    document_type: Mapped[str] = mapped_column(String(32))
    document_number: Mapped[str] = mapped_column(String(64))
    nationality: Mapped[str] = mapped_column(String(3))
    issuing_state: Mapped[str] = mapped_column(String(3))
    expiry_date: Mapped[str | None] = mapped_column(String(10), nullable=True)  # ISO date
    expired: Mapped[bool] = mapped_column(Boolean)
    mrz_valid: Mapped[bool] = mapped_column(Boolean)
    mrz_checks: Mapped[list] = mapped_column(JSON, default=list)  # [{field, code, ok, detail}]
    # valid | untrusted | tampered | unsupported; None for an MRZ read (no chip)
    passive_auth: Mapped[str | None] = mapped_column(String(16), nullable=True)
    passive_auth_details: Mapped[list] = mapped_column(JSON, default=list)
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # every finding, worst first
    face_decision: Mapped[str | None] = mapped_column(String(24), nullable=True)
    photo_blob: Mapped[str | None] = mapped_column(String(80), nullable=True)
    purge_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
class WatchlistSubject(Base):
    """A person on the law-enforcement fingerprint watchlist (enrolled by a supervisor)."""

    __tablename__ = "watchlist_subjects"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The case reference an officer reads on a hit; no biometric data.
    reference: Mapped[str] = mapped_column(String(200))
    enrolled_by: Mapped[str] = mapped_column(String(200))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WatchlistFinger(Base):
    """One enrolled finger: its ISO/IEC 19794-2 template and its print, both encrypted blobs."""

    __tablename__ = "watchlist_fingers"
    __table_args__ = (UniqueConstraint("subject_id", "position", name="uq_watchlist_finger"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("watchlist_subjects.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # ISO/IEC 19794-2 finger code 1-10
    quality: Mapped[int] = mapped_column(Integer)  # NFIQ 2
    template_blob: Mapped[str] = mapped_column(String(80))
    image_blob: Mapped[str | None] = mapped_column(String(80), nullable=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FingerprintSearch(Base):
    """One handheld search: who asked, where, and what came of it (the probes apart)."""

    __tablename__ = "fingerprint_searches"
    __table_args__ = (UniqueConstraint("device_key_id", "idempotency_key",
                                       name="uq_fingerprint_search_idempotency"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_key_id: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lane: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # hit | no_hit | recapture
    subject_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)  # fused Bozorth3
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The traveller the document names, when it names one enrolled here.
    traveler_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    citizen: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    comparisons: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FingerprintProbe(Base):
    """One finger of a search: its quality and, until purged, its print and template."""

    __tablename__ = "fingerprint_probes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("fingerprint_searches.id"), index=True)
    finger: Mapped[int] = mapped_column(Integer)  # order in the request, from 0
    position: Mapped[int] = mapped_column(Integer)  # ISO/IEC 19794-2 finger code 0-10
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)  # NFIQ 2
    score: Mapped[float | None] = mapped_column(Float, nullable=True)  # vs the hit's finger
    matched_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    image_blob: Mapped[str | None] = mapped_column(String(80), nullable=True)
    template_blob: Mapped[str | None] = mapped_column(String(80), nullable=True)
    purge_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEvent(Base):
    """Append-only, hash-chained: ``hash = sha256(prev_hash || canonical(fields))``."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public key id
    name: Mapped[str] = mapped_column(String(200))  # the person or device it was issued to
    role: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(64))
    # The lanes a device or partner key may submit for (store/keys.py BOUND_ROLES).
    lanes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OrphanCandidate(Base):
    """A blob that no row referenced when the sweep last looked (mark and sweep with grace)."""

    __tablename__ = "orphan_candidates"
    blob_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IndexOutboxEntry(Base):
    """A change a shared 1:N index must apply (``store/index_outbox.py``): written in the
    transaction that changes the enrolment, applied by the relay, in ``seq`` order."""

    __tablename__ = "index_outbox"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gallery_id: Mapped[str] = mapped_column(String(36))
    model: Mapped[str] = mapped_column(String(32))
    enrolment_id: Mapped[str] = mapped_column(String(36))
    op: Mapped[str] = mapped_column(String(8))  # put | delete
    template_blob: Mapped[str | None] = mapped_column(String(80), nullable=True)  # for put
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


Index("ix_index_outbox_pending", IndexOutboxEntry.gallery_id, IndexOutboxEntry.applied_at,
      IndexOutboxEntry.seq)
Index("ix_crossings_traveler_time", Crossing.traveler_id, Crossing.occurred_at)


class AuthFailure(Base):
    """Failed authentications from one client address in the current window, and its lockout.

    In the database, not in memory, so every API process of a deployment sees the same count
    (and a restart does not reset a lockout).
    """

    __tablename__ = "auth_failures"
    source: Mapped[str] = mapped_column(String(64), primary_key=True)  # client address
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebSession(Base):
    """A signed-in browser of the review pages. In the database, so that any worker serves
    any request; only a SHA-256 of the cookie's token is stored, never the token or a key."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # absolute lifetime
