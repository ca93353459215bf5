"""Encrypted blob store: confidentiality, integrity, binding, rotation, crash safety."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bordermatch.errors import BlobIntegrityError, BlobNotFoundError, ConfigError, InputError
from bordermatch.store.blobs import ENV_VAR, BlobStore, KeyRing

PHOTO = b"\xff\xd8\xff\xe0 pretend this is a passport photo of a traveller \xff\xd9" * 20


def ring(*kids: str) -> KeyRing:
    return KeyRing.from_spec(",".join(KeyRing.encode_entry(k, KeyRing.generate_key())
                                      for k in kids))


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", ring("k1"))


def blob_path(store: BlobStore, blob_id: str) -> Path:
    return store.root / blob_id[:2] / blob_id


def test_round_trip_and_ciphertext_on_disk(store: BlobStore) -> None:
    image = store.put(PHOTO, kind="image")
    template = store.put(b"\x00\x01" * 256, kind="template")
    empty = store.put(b"", kind="image")
    assert store.get(image) == PHOTO
    assert store.get(template, kind="template") == b"\x00\x01" * 256
    assert store.get(empty) == b""
    assert store.kind(template) == "template"
    big = store.put(PHOTO * 3000, kind="image")  # ~3 MB: headers are read without the body
    assert store.kind(big) == "image" and store.get(big) == PHOTO * 3000
    assert store.count_by_key() == {"k1": 4}
    assert sorted(store.ids()) == sorted([image, template, empty, big])
    raw = blob_path(store, image).read_bytes()
    assert b"passport photo" not in raw
    assert oct(blob_path(store, image).stat().st_mode & 0o777) == "0o600"


def test_same_plaintext_gets_a_fresh_nonce(store: BlobStore) -> None:
    a, b = store.put(PHOTO, kind="image"), store.put(PHOTO, kind="image")
    assert a != b
    assert blob_path(store, a).read_bytes()[-len(PHOTO) - 28:] != \
        blob_path(store, b).read_bytes()[-len(PHOTO) - 28:]


@pytest.mark.parametrize("where", ["ciphertext", "tag", "nonce", "kind", "kid_length"])
def test_any_flipped_byte_is_detected(store: BlobStore, where: str) -> None:
    blob_id = store.put(PHOTO, kind="image")
    path = blob_path(store, blob_id)
    data = bytearray(path.read_bytes())
    header = 4 + 1 + len("k1") + 1 + len("image")
    offset = {"ciphertext": header + 12 + 10, "tag": len(data) - 1, "nonce": header + 3,
              "kind": header - 2, "kid_length": 4}[where]
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BlobIntegrityError):
        store.get(blob_id)


def test_truncated_or_foreign_file_is_an_integrity_error(store: BlobStore) -> None:
    blob_id = store.put(PHOTO, kind="image")
    path = blob_path(store, blob_id)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(BlobIntegrityError):
        store.get(blob_id)
    path.write_bytes(b"not a blob at all")
    with pytest.raises(BlobIntegrityError):
        store.get(blob_id)


def test_wrong_key_and_retired_key(tmp_path: Path) -> None:
    blob_id = BlobStore(tmp_path, ring("k1")).put(PHOTO, kind="image")
    # Same key id, different key material: authentication fails, nothing decrypts.
    with pytest.raises(BlobIntegrityError, match="failed authentication"):
        BlobStore(tmp_path, ring("k1")).get(blob_id)
    with pytest.raises(BlobIntegrityError, match="not in the keyring"):
        BlobStore(tmp_path, ring("other")).get(blob_id)


def test_swapped_blob_ids_do_not_decrypt(store: BlobStore) -> None:
    alice = store.put(b"alice's face", kind="image")
    bob = store.put(b"bob's face", kind="image")
    blob_path(store, bob).write_bytes(blob_path(store, alice).read_bytes())
    with pytest.raises(BlobIntegrityError):
        store.get(bob)
    assert store.get(alice) == b"alice's face"


def test_kind_is_bound_and_checked(store: BlobStore) -> None:
    blob_id = store.put(PHOTO, kind="image")
    with pytest.raises(BlobIntegrityError, match="holds 'image'"):
        store.get(blob_id, kind="template")


def test_rotation_reencrypts_everything_and_allows_retiring(tmp_path: Path) -> None:
    old = ring("k1")
    store = BlobStore(tmp_path, old)
    ids = [store.put(f"photo {i}".encode(), kind="image") for i in range(5)]
    new_key = KeyRing.generate_key()
    both = old.with_key("k2", new_key)
    rotating = BlobStore(tmp_path, both)
    assert rotating.rotate("k2") == 5
    assert rotating.keyring.active == "k2"
    assert rotating.count_by_key() == {"k2": 5}
    assert rotating.rotate("k2") == 0  # idempotent: safe to re-run after an interruption
    retired = BlobStore(tmp_path, both.with_active("k2").without("k1"))
    assert [retired.get(i) for i in ids] == [f"photo {i}".encode() for i in range(5)]
    assert retired.put(b"new", kind="image")
    assert set(retired.count_by_key()) == {"k2"}


def test_retiring_before_rotation_makes_old_blobs_unreadable(tmp_path: Path) -> None:
    old = ring("k1")
    blob_id = BlobStore(tmp_path, old).put(PHOTO, kind="image")
    too_early = old.with_key("k2", KeyRing.generate_key(), activate=True).without("k1")
    with pytest.raises(BlobIntegrityError, match="retired too early"):
        BlobStore(tmp_path, too_early).get(blob_id)


def test_rotation_never_resurrects_a_blob_deleted_meanwhile(tmp_path: Path,
                                                            monkeypatch) -> None:
    store = BlobStore(tmp_path, ring("k1").with_key("k2", KeyRing.generate_key()))
    keep = store.put(b"keep", kind="image")
    purged = store.put(b"purged citizen", kind="image")
    listed = [keep, purged]
    store.delete(purged)  # the purge job ran after rotate() listed the ids
    monkeypatch.setattr(store, "ids", lambda: iter(listed))
    assert store.rotate("k2") == 1
    assert not store.exists(purged)
    assert store.get(keep) == b"keep"


def test_crash_between_write_and_rename_leaves_no_blob(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    spec = ring("k1").to_spec()
    # A real process dies (os._exit skips every cleanup handler) right after the temp file
    # is written and fsynced, before os.replace publishes it.
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from bordermatch.store import blobs
        store = blobs.BlobStore(Path({str(root)!r}), blobs.KeyRing.from_spec({spec!r}))
        blobs.os.replace = lambda src, dst: os._exit(9)
        store.put(b"half-written photo", kind="image")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 9, done.stderr.decode()
    store = BlobStore(root, KeyRing.from_spec(spec))
    leftovers = list(root.glob("*/.*.tmp"))
    assert len(leftovers) == 1  # the crash really happened mid-write
    assert list(store.ids()) == []
    assert store.sweep_temp(older_than_s=3600) == 0  # might belong to a put in flight
    assert store.sweep_temp(older_than_s=0) == 1
    assert list(root.glob("*/.*.tmp")) == []


def test_failed_write_cleans_up_and_raises(store: BlobStore, monkeypatch) -> None:
    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bordermatch.store.blobs.os.replace", disk_full)
    with pytest.raises(OSError):
        store.put(PHOTO, kind="image")
    assert list(store.ids()) == []
    assert list(store.root.glob("*/.*.tmp")) == []


def test_delete(store: BlobStore) -> None:
    blob_id = store.put(PHOTO, kind="image")
    other = store.put(b"other", kind="image")
    assert store.exists(blob_id) and blob_id in store
    assert store.delete(blob_id) is True
    assert store.delete(blob_id) is False
    assert not store.exists(blob_id)
    with pytest.raises(BlobNotFoundError):
        store.get(blob_id)
    assert list(store) == [other]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "", "ABCDEF", "0" * 31, "g" * 32, 42])
def test_malformed_ids_are_not_found(store: BlobStore, bad) -> None:
    with pytest.raises(BlobNotFoundError):
        store.get(bad)
    assert store.delete(bad) is False
    assert store.exists(bad) is False


def test_bad_put_input(store: BlobStore) -> None:
    with pytest.raises(InputError):
        store.put("text, not bytes", kind="image")  # type: ignore[arg-type]
    for kind in ["", "Image", "a/b", "x" * 33]:
        with pytest.raises(InputError):
            store.put(b"x", kind=kind)
    assert list(store.ids()) == []


def test_iteration_ignores_temp_and_foreign_files(store: BlobStore) -> None:
    blob_id = store.put(b"x", kind="image")
    (store.root / blob_id[:2] / f".{blob_id}.abc.tmp").write_bytes(b"partial")
    (store.root / "README").write_text("not a blob")
    (store.root / blob_id[:2] / "notes.txt").write_text("not a blob")
    assert list(store.ids()) == [blob_id]


def test_keyring_parsing() -> None:
    k1, k2 = KeyRing.generate_key(), KeyRing.generate_key()
    spec = f"{KeyRing.encode_entry('2026-11', k1)}, {KeyRing.encode_entry('2026-05', k2)}"
    keys = KeyRing.from_spec(spec)
    assert keys.active == "2026-11" and keys.kids == ("2026-11", "2026-05")
    assert keys.key("2026-05") == k2
    assert KeyRing.from_spec(keys.to_spec()).kids == keys.kids
    assert base64.b64encode(k1).decode() not in repr(keys)
    assert KeyRing.from_env({ENV_VAR: spec}).active == "2026-11"
    short = base64.b64encode(b"x" * 16).decode()
    for bad in ["", "nokey", "k1:!!!notbase64", f"k1:{short}", f"bad id:{short}",
                f"{KeyRing.encode_entry('a', k1)},{KeyRing.encode_entry('a', k2)}"]:
        with pytest.raises(ConfigError):
            KeyRing.from_spec(bad)
    with pytest.raises(ConfigError):
        KeyRing.from_env({})
    with pytest.raises(ConfigError):
        keys.without("2026-11")  # the active key cannot be retired
    with pytest.raises(ConfigError):
        keys.with_active("unknown")


def test_store_reads_keys_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, ring("env1").to_spec())
    store = BlobStore(tmp_path, KeyRing.from_env())
    assert store.keyring.active == "env1"
    assert store.get(store.put(b"x", kind="image")) == b"x"
