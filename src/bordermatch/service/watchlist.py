"""The fingerprint watchlist as this process searches it, kept in step with the database.

The database holds the list (``watchlist_fingers``: encrypted ISO/IEC 19794-2 templates);
:class:`LoadedWatchlist` decrypts it into a :class:`~bordermatch.fingerprint.watchlist.Watchlist`
with its pre-filter index, once at start-up (``create_app``) and again whenever the list's
state in the database (finger count, newest enrolment) moved, e.g. after another process
enrolled. An enrolment in this process builds the new search structure *before* its
transaction commits (a copy of the current one plus the new subject) and swaps it in right
after, so searches never wait for a full reload and never see a half-built index.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bordermatch.fingerprint.minutiae import FingerTemplate, decode_iso
from bordermatch.fingerprint.watchlist import Watchlist
from bordermatch.store import fingerprints as fpstore
from bordermatch.store.blobs import BlobStore

State = tuple[int, datetime | None]
# Held around every call into NBIS (service/fingerprints.py says why); re-entrant, since a
# search that holds it may (re)load the watchlist, which prepares templates through NBIS.
NBIS_LOCK = threading.RLock()


class LoadedWatchlist:
    def __init__(self, sessions: sessionmaker[Session], blobs: BlobStore) -> None:
        self._sessions = sessions
        self._blobs = blobs
        self._lock = threading.Lock()
        self._state: State | None = None
        self._list: Watchlist | None = None

    def current(self) -> Watchlist:
        """The watchlist as the database holds it now (reloaded when it moved)."""
        with self._sessions() as s:
            state = fpstore.watchlist_state(s)
        loaded, loaded_state = self._list, self._state
        if loaded is not None and loaded_state == state:
            return loaded
        with NBIS_LOCK, self._lock:  # always in this order: a search holds NBIS_LOCK first
            if self._list is not None and self._state == state:
                return self._list
            with self._sessions() as s:
                state = fpstore.watchlist_state(s)
                rows = fpstore.watchlist_rows(s)
            grouped: dict[str, dict[int, FingerTemplate]] = {}
            for sid, pos, blob in rows:
                grouped.setdefault(sid, {})[pos] = decode_iso(self._blobs.get(blob,
                                                                          kind="template"))
            wl = Watchlist()
            for sid, fingers in grouped.items():
                wl.enrol(sid, fingers)
            if len(wl):
                wl.build_index()
            self._list, self._state = wl, state
            return wl

    def load_if_enrolled(self) -> int:
        """Load at start-up when the list holds anyone; a deployment without fingerprints
        never needs the NBIS backend. Returns the number of enrolled fingers."""
        with self._sessions() as s:
            n, _ = fpstore.watchlist_state(s)
        if n:
            self.current()
        return n

    def prepare_with(self, before: State, subject_id: str,
                     fingers: Mapping[int, FingerTemplate]) -> Watchlist | None:
        """The search structure with one more subject, built from the loaded one when it is
        the state ``before`` the enrolment; None when nothing current is loaded (the next
        search loads it)."""
        loaded, loaded_state = self._list, self._state
        if loaded is None or loaded_state != before:
            return None
        wl = loaded.copy()
        wl.enrol(subject_id, fingers)
        wl.build_index()
        return wl

    def swap(self, before: State, prepared: Watchlist | None, after: State) -> None:
        """Install ``prepared`` as the state ``after`` the committed enrolment, unless the
        loaded list changed meanwhile (then the next search reloads)."""
        with self._lock:
            if prepared is not None and self._state == before:
                self._list, self._state = prepared, after
