"""A 1:N index shared by every server and worker (Milvus), kept in step with the database
through the transactional outbox (``store/index_outbox.py``).

With an in-process backend (``flat``, ``faiss``) each process builds its own index from
the database's templates. A shared backend holds one collection per gallery and model
instead, which no process rebuilds: the relay here applies the outbox's pending rows to
it, in order, and marks them applied. ``ServiceCore.gallery`` runs the relay for the
gallery before answering a search of it, so a search never misses a committed enrolment
or sees a committed purge; the purge schedule runs it for every gallery, so the index is
at most ``purge_interval_s`` behind for readers that go to Milvus directly.

Crash safety: an enrolment or purge commits its outbox rows with the record, so a process
that dies after the commit leaves them pending and the next relay, in any process,
applies them. A relay that dies after writing to Milvus but before its commit leaves them
pending too; applying them again is an upsert or delete by enrolment id, which changes
nothing the second time. Relays hold a database lock (``index_outbox.lock``), so one
gallery's rows are never applied out of order by two processes at once.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import timedelta

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from bordermatch.errors import BlobNotFoundError, ConfigError
from bordermatch.index.milvus import MilvusIndex
from bordermatch.store import index_outbox
from bordermatch.store.blobs import BlobStore
from bordermatch.store.clock import Clock
from bordermatch.store.tables import IndexOutboxEntry

log = logging.getLogger(__name__)

SHARED_BACKENDS = frozenset({"milvus"})


def collection_name(gallery_id: str, model: str) -> str:
    """A valid Milvus collection name for one gallery's templates of one model."""
    return "g_" + re.sub(r"[^A-Za-z0-9]", "_", f"{model}_{gallery_id}")


class SharedIndexes:
    """The shared collections of every gallery, and the relay that fills them."""

    def __init__(self, sessions: sessionmaker[Session], blobs: BlobStore, clock: Clock, *,
                 uri: str | None, token: str | None = None,
                 index_type: str = "AUTOINDEX",
                 factory: Callable[..., MilvusIndex] = MilvusIndex) -> None:
        if not uri:
            raise ConfigError("index_backend 'milvus' needs index_uri (a Milvus server such "
                              "as http://127.0.0.1:19530, or a Milvus Lite path)")
        self.sessions = sessions
        self.blobs = blobs
        self.clock = clock
        self._uri, self._token, self._index_type = uri, token, index_type
        self._factory = factory
        self._open: dict[str, MilvusIndex] = {}
        self._lock = threading.Lock()

    def index(self, gallery_id: str, model: str, dim: int) -> MilvusIndex:
        """The gallery's collection, created if absent."""
        return self._get(collection_name(gallery_id, model), dim)

    def existing(self, gallery_id: str, model: str) -> MilvusIndex | None:
        """The gallery's collection at its own dimension, or None if there is none."""
        try:
            return self._get(collection_name(gallery_id, model), None)
        except ConfigError:
            return None

    def _get(self, name: str, dim: int | None) -> MilvusIndex:
        with self._lock:
            if name not in self._open:
                self._open[name] = self._factory(dim, uri=self._uri, collection=name,
                                                 token=self._token,
                                                 index_type=self._index_type)
            return self._open[name]

    def sync(self, gallery_id: str | None = None, batch: int = 5000) -> int:
        """Apply the pending outbox rows (of one gallery, or all); returns how many."""
        with self.sessions() as s:
            if not index_outbox.has_pending(s, gallery_id):
                return 0  # the common case costs one indexed read
        applied = 0
        while True:
            with self.sessions.begin() as s:
                index_outbox.lock(s)
                rows = index_outbox.pending(s, gallery_id, batch)
                if not rows:
                    return applied
                self._apply(s, rows)
                index_outbox.mark_applied(s, [r.seq for r in rows], self.clock.now())
            applied += len(rows)
            log.debug("index relay applied %d outbox rows", len(rows))

    def _apply(self, s: Session, rows: list[IndexOutboxEntry]) -> None:
        # The last row of an enrolment decides (rows are in seq order); one write per
        # collection then.
        last: dict[tuple[str, str], dict[str, IndexOutboxEntry]] = {}
        for r in rows:
            last.setdefault((r.gallery_id, r.model), {})[r.enrolment_id] = r
        for (gallery_id, model), by_id in last.items():
            puts: list[tuple[str, np.ndarray]] = []
            for r in by_id.values():
                if r.op != "put" or r.template_blob is None:
                    continue
                try:
                    data = self.blobs.get(r.template_blob, kind="template")
                except BlobNotFoundError:
                    if index_outbox.still_references(s, r.enrolment_id, r.template_blob):
                        raise
                    continue  # purged since; the delete row is still to come
                puts.append((r.enrolment_id, np.frombuffer(data, np.float32)))
            deletes = [i for i, r in by_id.items() if r.op == "delete"]
            index = (self.index(gallery_id, model, len(puts[0][1])) if puts
                     else self.existing(gallery_id, model))
            if index is None:
                continue  # deletes for a collection that never held anything
            if puts:
                index.upsert([i for i, _ in puts], np.stack([v for _, v in puts]))
            if deletes:
                index.remove(deletes)

    def rebuild(self, gallery_id: str, model: str, batch: int = 5000) -> int:
        """Refill the gallery's collection from the database (a collection lost with its
        server's disk, or holding what it should not); returns the templates queued.

        First every live template is queued again, committed: from then on the relay of
        any process can refill the collection. Then, under the relay's lock, the
        collection is dropped and the gallery's pending rows applied in the same
        transaction that marks them applied, so a crash after the drop leaves them
        pending for the next relay rather than an empty collection that looks current.
        """
        with self.sessions.begin() as s:
            index_outbox.lock(s)
            queued = index_outbox.requeue_gallery(s, self.clock.now(), gallery_id, model)
        with self.sessions.begin() as s:
            index_outbox.lock(s)
            old = self.existing(gallery_id, model)
            if old is not None:
                old.drop()
                with self._lock:
                    self._open.pop(collection_name(gallery_id, model), None)
                old.close()
            while rows := index_outbox.pending(s, gallery_id, batch):
                self._apply(s, rows)
                index_outbox.mark_applied(s, [r.seq for r in rows], self.clock.now())
                s.flush()
        log.info("rebuilt the shared index of gallery %s from %d templates", gallery_id,
                 queued)
        return queued

    def scheduled(self, keep: timedelta = timedelta(days=1)) -> int:
        """The purge schedule's turn: apply every gallery's pending rows, then drop rows
        applied more than ``keep`` ago (kept that long for diagnosis). Returns rows applied."""
        applied = self.sync()
        with self.sessions.begin() as s:
            index_outbox.prune_applied(s, self.clock.now() - keep)
        return applied

    def close(self) -> None:
        with self._lock:
            for index in self._open.values():
                index.close()
            self._open.clear()
