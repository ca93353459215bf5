"""``bordermatch blobs``: keygen, status and rotation through the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bordermatch.cli import app
from bordermatch.store.blobs import ENV_VAR, BlobStore, KeyRing

runner = CliRunner()


def test_keygen_rotate_status(tmp_path: Path) -> None:
    first = runner.invoke(app, ["blobs", "keygen", "2026-05"])
    second = runner.invoke(app, ["blobs", "keygen", "2026-11"])
    assert first.exit_code == 0 and second.exit_code == 0
    old, new = first.stdout.strip(), second.stdout.strip()
    assert KeyRing.from_spec(old).kids == ("2026-05",)
    store = BlobStore(tmp_path, KeyRing.from_spec(old))
    ids = [store.put(b"photo %d" % i, kind="image") for i in range(3)]

    env = {ENV_VAR: f"{new},{old}"}  # step 2 of docs/keys.md: the new key is active
    status = runner.invoke(app, ["blobs", "status", "--dir", str(tmp_path)], env=env)
    assert status.exit_code == 0 and "2026-05: 3 blobs" in status.stdout
    done = runner.invoke(app, ["blobs", "rotate", "2026-11", "--dir", str(tmp_path)], env=env)
    assert done.exit_code == 0 and "re-encrypted 3 blobs" in done.stdout

    retired = BlobStore(tmp_path, KeyRing.from_spec(new))  # step 5: the old key is gone
    assert [retired.get(i) for i in ids] == [b"photo %d" % i for i in range(3)]
    status = runner.invoke(app, ["blobs", "status", "--dir", str(tmp_path)],
                           env={ENV_VAR: new})
    assert status.exit_code == 0 and "2026-11: 3 blobs" in status.stdout


def test_errors_exit_nonzero_without_a_traceback(tmp_path: Path) -> None:
    assert runner.invoke(app, ["blobs", "keygen", "bad id"]).exit_code == 2
    missing = runner.invoke(app, ["blobs", "status", "--dir", str(tmp_path)], env={ENV_VAR: ""})
    assert missing.exit_code == 2
    env = {ENV_VAR: KeyRing.encode_entry("k1", KeyRing.generate_key())}
    unknown = runner.invoke(app, ["blobs", "rotate", "nope", "--dir", str(tmp_path)], env=env)
    assert unknown.exit_code == 2
    BlobStore(tmp_path, KeyRing.from_spec(env[ENV_VAR])).put(b"x", kind="image")
    other = {ENV_VAR: KeyRing.encode_entry("k2", KeyRing.generate_key())}
    lost = runner.invoke(app, ["blobs", "status", "--dir", str(tmp_path)], env=other)
    assert lost.exit_code == 1  # a blob under a key nobody has any more is reported
