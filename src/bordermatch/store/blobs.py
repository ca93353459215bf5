"""Encrypted blob store for face images and templates (AES-256-GCM at rest).

Layout on disk: ``<root>/<id[:2]>/<id>``, one file per blob, where ``id`` is 32 lowercase
hex digits (a random UUID). Each file is::

    b"BMB1" | u8 len(kid) | kid | u8 len(kind) | kind | 12-byte nonce | ciphertext + 16-byte tag

The header (magic, key id, kind) and the blob id are the GCM associated data, so a file
copied over another id, or a header edited to claim another kind or key, fails
authentication instead of decrypting to the wrong person's data. Every blob gets a fresh
random 96-bit nonce; with random nonces NIST SP 800-38D allows 2**32 encryptions per key,
which is why ``rotate`` exists long before that matters.

Writes go to a temporary file in the same directory, are fsynced, then ``os.replace``d over
the final name and the directory fsynced: a crash leaves either no blob or the whole blob,
never a half-written one. Temporary files never look like blob ids, so iteration skips
them; ``sweep_temp`` removes stale leftovers from a crash.

Keys come from ``BORDERMATCH_BLOB_KEYS`` (``kid1:base64key,kid2:base64key``; the first is
the active key that encrypts new blobs, the others stay readable) or from a settings value
in the same format. Rotation and retirement: see docs/keys.md.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from bordermatch.errors import (
    BlobIntegrityError,
    BlobNotFoundError,
    ConfigError,
    InputError,
)

log = logging.getLogger(__name__)

ENV_VAR = "BORDERMATCH_BLOB_KEYS"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, the GCM size that needs no extra hashing
TAG_BYTES = 16
MAGIC = b"BMB1"
# Magic, two length-prefixed fields of at most 255 bytes, nonce and tag: all a header read needs.
_HEADER_MAX = len(MAGIC) + 2 * 256 + NONCE_BYTES + TAG_BYTES

_KID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_KIND = re.compile(r"[a-z0-9_.-]{1,32}")
_BLOB_ID = re.compile(r"[0-9a-f]{32}")
_SHARD = re.compile(r"[0-9a-f]{2}")


class KeyRing:
    """The AES-256 keys a blob store may use, by key id; one of them is active.

    The active key encrypts every new blob; every key in the ring decrypts. A key is
    retired by building a ring without it, once ``BlobStore.count_by_key`` shows no blob
    still uses it. Immutable; ``repr`` never shows key material.
    """

    __slots__ = ("_active", "_keys")

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        for kid, key in keys.items():
            if not _KID.fullmatch(kid):
                raise ConfigError(f"blob key id {kid!r} must match {_KID.pattern}")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise ConfigError(f"blob key {kid!r} must be {KEY_BYTES} bytes (AES-256)")
        if active not in keys:
            raise ConfigError(f"active blob key {active!r} is not in the keyring")
        self._keys = MappingProxyType(dict(keys))
        self._active = active

    @classmethod
    def from_spec(cls, spec: str) -> KeyRing:
        """Parse ``"kid1:base64key,kid2:base64key"``; the first key is the active one."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep:
                raise ConfigError("blob keys must be written kid:base64key, comma-separated")
            kid = kid.strip()
            if kid in keys:
                raise ConfigError(f"blob key id {kid!r} appears twice")
            try:
                keys[kid] = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError(f"blob key {kid!r} is not valid base64") from None
            order.append(kid)
        if not order:
            raise ConfigError("no blob keys given")
        return cls(keys, order[0])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeyRing:
        """The keyring in ``BORDERMATCH_BLOB_KEYS``; a missing variable is a ConfigError."""
        env = os.environ if environ is None else environ
        spec = env.get(ENV_VAR, "")
        if not spec.strip():
            raise ConfigError(f"{ENV_VAR} is not set; generate a key (see docs/keys.md)")
        return cls.from_spec(spec)

    @staticmethod
    def generate_key() -> bytes:
        return secrets.token_bytes(KEY_BYTES)

    @staticmethod
    def encode_entry(kid: str, key: bytes) -> str:
        """One ``kid:base64key`` entry for ``BORDERMATCH_BLOB_KEYS``."""
        return f"{kid}:{base64.b64encode(key).decode('ascii')}"

    def to_spec(self) -> str:
        """The ring in ``BORDERMATCH_BLOB_KEYS`` format, active key first."""
        order = [self._active, *(k for k in self._keys if k != self._active)]
        return ",".join(self.encode_entry(k, self._keys[k]) for k in order)

    @property
    def active(self) -> str:
        return self._active

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def key(self, kid: str) -> bytes:
        try:
            return self._keys[kid]
        except KeyError:
            raise ConfigError(f"blob key {kid!r} is not in the keyring") from None

    def with_key(self, kid: str, key: bytes, *, activate: bool = False) -> KeyRing:
        if kid in self._keys:
            raise ConfigError(f"blob key id {kid!r} is already in the keyring")
        return KeyRing({**self._keys, kid: key}, kid if activate else self._active)

    def with_active(self, kid: str) -> KeyRing:
        if kid not in self._keys:
            raise ConfigError(f"cannot activate blob key {kid!r}: not in the keyring")
        return KeyRing(self._keys, kid)

    def without(self, kid: str) -> KeyRing:
        """Retire a key. Blobs still under it become unreadable (BlobIntegrityError)."""
        if kid == self._active:
            raise ConfigError(f"cannot retire the active blob key {kid!r}; activate another")
        if kid not in self._keys:
            raise ConfigError(f"blob key {kid!r} is not in the keyring")
        return KeyRing({k: v for k, v in self._keys.items() if k != kid}, self._active)

    def __repr__(self) -> str:
        return f"KeyRing(kids={list(self._keys)}, active={self._active!r})"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """Encrypted, content-opaque bytes by id: ``put`` -> id, ``get``, ``delete``, iterate.

    Safe to share between threads, and between processes on one host (deletes and
    re-encryption take an ``flock`` on ``<root>/.lock`` so that a rotation can never write
    back a blob that a purge just deleted). ``kind`` is a short label such as ``"image"``
    or ``"template"``; it is authenticated with the blob and can be checked on read.
    """

    def __init__(self, root: Path, keyring: KeyRing) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._keyring = keyring
        self._thread_lock = threading.Lock()

    @property
    def keyring(self) -> KeyRing:
        return self._keyring

    # -- public API ---------------------------------------------------------------------

    def put(self, data: bytes, *, kind: str) -> str:
        """Encrypt and store ``data``; returns the new blob's id once it is durable."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InputError(f"blob data must be bytes, not {type(data).__name__}")
        _check_kind(kind)
        blob_id = uuid.uuid4().hex
        keyring = self._keyring
        self._write(blob_id, self._seal(blob_id, kind, keyring.active, keyring, bytes(data)))
        return blob_id

    def get(self, blob_id: str, *, kind: str | None = None) -> bytes:
        """Decrypted bytes. ``kind``, if given, must match the kind stored with the blob."""
        stored_kind, plaintext = self._open(blob_id, self._read(blob_id))
        if kind is not None and kind != stored_kind:
            raise BlobIntegrityError(f"blob {blob_id} holds {stored_kind!r}, not {kind!r}")
        return plaintext

    def kind(self, blob_id: str) -> str:
        """The kind recorded in the blob's header (not authenticated until ``get``)."""
        return _parse(blob_id, self._read(blob_id, _HEADER_MAX))[1]

    def exists(self, blob_id: str) -> bool:
        return _BLOB_ID.fullmatch(str(blob_id)) is not None and self._path(blob_id).is_file()

    def delete(self, blob_id: str) -> bool:
        """Remove a blob; True if it existed. The removal is durable when this returns."""
        if _BLOB_ID.fullmatch(str(blob_id)) is None:
            return False
        path = self._path(blob_id)
        with self._mutex():
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            _fsync_dir(path.parent)
        return True

    def ids(self) -> Iterator[str]:
        """Every stored blob id, in no particular order (for orphan sweeps)."""
        for shard in self.root.iterdir():
            if not (shard.is_dir() and _SHARD.fullmatch(shard.name)):
                continue
            for entry in shard.iterdir():
                if _BLOB_ID.fullmatch(entry.name) and entry.name[:2] == shard.name:
                    yield entry.name

    def __iter__(self) -> Iterator[str]:
        return self.ids()

    def __contains__(self, blob_id: object) -> bool:
        return isinstance(blob_id, str) and self.exists(blob_id)

    def count_by_key(self) -> dict[str, int]:
        """How many blobs each key id encrypts; a key with no blobs can be retired."""
        counts: dict[str, int] = {}
        for blob_id in self.ids():
            try:
                kid = _parse(blob_id, self._read(blob_id, _HEADER_MAX))[0]
            except BlobNotFoundError:
                continue  # deleted while we walked
            counts[kid] = counts.get(kid, 0) + 1
        return counts

    def rotate(self, new_kid: str) -> int:
        """Make ``new_kid`` the active key and re-encrypt every blob under it.

        Returns the number of blobs re-encrypted. Each blob is rewritten atomically, so an
        interrupted rotation leaves every blob readable and can simply be run again.
        """
        self._keyring = self._keyring.with_active(new_kid)
        keyring = self._keyring
        done = 0
        for blob_id in list(self.ids()):
            with self._mutex():
                try:
                    blob = self._read(blob_id)
                except BlobNotFoundError:
                    continue  # purged while we walked; must not come back
                kid = _parse(blob_id, blob)[0]
                if kid == new_kid:
                    continue
                kind, plaintext = self._open(blob_id, blob, keyring)
                self._write(blob_id, self._seal(blob_id, kind, new_kid, keyring, plaintext))
            done += 1
        log.info("re-encrypted %d blobs under key %r", done, new_kid)
        return done

    def sweep_temp(self, older_than_s: float = 600.0) -> int:
        """Delete temporary files left by a crash mid-write; returns how many.

        Only files older than ``older_than_s`` go: a younger one may belong to a ``put``
        in flight, whose ``os.replace`` would fail if we removed it.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        for shard in self.root.iterdir():
            if not (shard.is_dir() and _SHARD.fullmatch(shard.name)):
                continue
            for entry in shard.glob(".*.tmp"):
                try:
                    if entry.stat().st_mtime > cutoff:
                        continue
                    entry.unlink()
                except FileNotFoundError:
                    continue
                removed += 1
        return removed

    # -- internals ----------------------------------------------------------------------

    def _path(self, blob_id: str) -> Path:
        return self.root / blob_id[:2] / blob_id

    @contextlib.contextmanager
    def _mutex(self) -> Iterator[None]:
        with self._thread_lock, open(self.root / ".lock", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _read(self, blob_id: str, limit: int = -1) -> bytes:
        """The stored file, or its first ``limit`` bytes (enough for the header)."""
        if not isinstance(blob_id, str) or _BLOB_ID.fullmatch(blob_id) is None:
            raise BlobNotFoundError(f"no blob {blob_id!r} (not a blob id)")
        try:
            with self._path(blob_id).open("rb") as f:
                return f.read(limit)
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob {blob_id}") from None

    def _write(self, blob_id: str, payload: bytes) -> None:
        shard = self.root / blob_id[:2]
        shard.mkdir(exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{blob_id}.", suffix=".tmp", dir=shard)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, shard / blob_id)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(shard)

    @staticmethod
    def _seal(blob_id: str, kind: str, kid: str, keyring: KeyRing, plaintext: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        header = _header(kid, kind)
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(keyring.key(kid)).encrypt(nonce, plaintext, header + blob_id.encode())
        return header + nonce + sealed

    def _open(self, blob_id: str, blob: bytes,
              keyring: KeyRing | None = None) -> tuple[str, bytes]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        keyring = self._keyring if keyring is None else keyring
        kid, kind, header_len = _parse(blob_id, blob)
        if kid not in keyring:
            raise BlobIntegrityError(
                f"blob {blob_id} is encrypted under key {kid!r}, which is not in the keyring "
                "(retired too early?)"
            )
        nonce = blob[header_len:header_len + NONCE_BYTES]
        try:
            plaintext = AESGCM(keyring.key(kid)).decrypt(
                nonce, blob[header_len + NONCE_BYTES:], blob[:header_len] + blob_id.encode()
            )
        except InvalidTag:
            raise BlobIntegrityError(
                f"blob {blob_id} failed authentication (tampered, swapped or wrong key)"
            ) from None
        return kind, plaintext


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or _KIND.fullmatch(kind) is None:
        raise InputError(f"blob kind {kind!r} must match {_KIND.pattern}")


def _header(kid: str, kind: str) -> bytes:
    k, t = kid.encode("ascii"), kind.encode("ascii")
    return MAGIC + bytes([len(k)]) + k + bytes([len(t)]) + t


def _parse(blob_id: str, blob: bytes) -> tuple[str, str, int]:
    """(key id, kind, header length) of a stored blob, or BlobIntegrityError."""
    bad = BlobIntegrityError(f"blob {blob_id} is truncated or not a bordermatch blob")
    if len(blob) < len(MAGIC) + 2 or not blob.startswith(MAGIC):
        raise bad
    pos = len(MAGIC)
    fields = []
    for _ in range(2):
        n = blob[pos]
        raw = blob[pos + 1:pos + 1 + n]
        if len(raw) != n or n == 0:
            raise bad
        try:
            fields.append(raw.decode("ascii"))
        except UnicodeDecodeError:
            raise bad from None
        pos += 1 + n
        if pos >= len(blob):
            raise bad
    if len(blob) < pos + NONCE_BYTES + TAG_BYTES:
        raise bad
    return fields[0], fields[1], pos
