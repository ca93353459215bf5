"""The trust store directory: CSCA certificates written by ``bordermatch document trust add``
(one DER file each), PEM bundles or ICAO master lists dropped in by hand.

``load_trust_dir`` is what the CLI (``document chip --trust``) reads; ``TrustDirectory``
is the service's view of the same folder, reloaded when its files change, so a CSCA added
while the service runs is trusted from the next read on without a restart.
"""

from __future__ import annotations

import threading
from pathlib import Path

from bordermatch.documents.passive_auth import TrustStore, load_certificates
from bordermatch.errors import ConfigError, TrustStoreError

SUFFIXES = (".der", ".pem", ".crt", ".cer", ".ml")


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise TrustStoreError(f"trust store {directory} is not a directory")
    return sorted(p for p in directory.iterdir()
                  if p.suffix.lower() in SUFFIXES and p.is_file())


def load_trust_dir(directory: Path) -> TrustStore:
    """Every certificate of the folder; a file that does not load is a TrustStoreError."""
    certs = []
    for path in _files(directory):
        try:
            certs.extend(load_certificates(path.read_bytes()))
        except TrustStoreError as exc:
            raise TrustStoreError(f"{path.name}: {exc}") from None
    return TrustStore(tuple(certs))


class TrustDirectory:
    """A trust store folder, reloaded when a file in it is added, removed or rewritten.

    ``None`` stands for no configured store: nothing is trusted, so every chip reads as
    ``untrusted`` (and goes to an officer) rather than the service refusing to start.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._store = TrustStore()
        self.store()  # a missing or broken folder fails at start-up

    def store(self) -> TrustStore:
        """The current certificates. A folder that stopped loading is the operator's fault,
        not the caller's: ConfigError (a 5xx), never a 4xx about the document."""
        if self.directory is None:
            return self._store
        with self._lock:
            try:
                stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                              for p in _files(self.directory))
                if stamp != self._stamp:
                    self._store, self._stamp = load_trust_dir(self.directory), stamp
            except (TrustStoreError, OSError) as exc:
                raise ConfigError(f"trust store: {exc}") from None
            return self._store
