"""``bordermatch watchlist add``: a supervisor puts a subject on the service's fingerprint
watchlist, straight into its database and encrypted blob store (the same path and audit
entry as ``POST /v1/watchlist/subjects``).

The command acts for the holder of a supervisor API key (``--key`` or
``BORDERMATCH_API_KEY``), so the audit log names a person, not "the command line". A running
service picks the new subject up on its next search (it compares the watchlist's state in
the database with what it loaded). ``bordermatch fingerprint watchlist build`` is another
thing: a watchlist *file* for offline searches.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bordermatch.cli._common import EXIT_OS, emit_json, fail

app = typer.Typer(no_args_is_help=True,
                  help="The service's fingerprint watchlist (supervisors).")


def _service(database_url: str | None):
    from bordermatch.cli.service import _settings
    from bordermatch.errors import ConfigError
    from bordermatch.service import BorderService
    from bordermatch.store.blobs import BlobStore, KeyRing
    from bordermatch.store.clock import SystemClock
    from bordermatch.store.db import make_engine, sessionmaker_for, upgrade

    settings = _settings(database_url)
    ring = (KeyRing.from_spec(settings.blob_keys.get_secret_value()) if settings.blob_keys
            else KeyRing.from_env())
    engine = make_engine(settings.database_url)
    upgrade(engine)

    def no_faces():
        raise ConfigError("the watchlist command needs no face engine")

    return BorderService(settings, sessionmaker_for(engine), BlobStore(settings.blob_dir, ring),
                         SystemClock(), no_faces)


def _parse_finger(spec: str) -> tuple[str, Path]:
    position, sep, path = spec.partition("=")
    if not sep or not position or not path:
        raise typer.BadParameter(f"{spec!r}: write POSITION=IMAGE, e.g. right_index=ri.png")
    return position, Path(path)


def add(subject_id: str = typer.Argument(..., help="The subject's id on the watchlist."),
        reference: str = typer.Option(..., "--reference",
                                      help="The case reference an officer reads on a hit."),
        finger: list[str] = typer.Option(
            ..., "--finger", help="POSITION=IMAGE, repeat for 1-10 fingers; POSITION is an "
            "ISO/IEC 19794-2 code (1-10) or a name such as right_index."),
        key: str = typer.Option(..., "--key", envvar="BORDERMATCH_API_KEY",
                                help="A supervisor's API key: the audit log names its holder."),
        database_url: str | None = typer.Option(None, "--database-url",
                                                envvar="BORDERMATCH_DATABASE_URL"),
        as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout.")) -> None:
    """Enrol a subject from finger images (each at least the NFIQ 2 floor), audited."""
    from bordermatch.errors import BordermatchError, PermissionRefused
    from bordermatch.fingerprint.minutiae import finger_position
    from bordermatch.service.fingerprints import FingerUpload
    from bordermatch.store import keys

    try:
        svc = _service(database_url)
        with svc.sessions() as s:
            who = keys.authenticate(s, key.strip())
        if who is None or who.role != "supervisor":
            raise PermissionRefused("watchlist enrolment needs a valid supervisor key")
        uploads = []
        for spec in finger:
            position, path = _parse_finger(spec)
            try:
                data = path.read_bytes()
            except OSError as exc:  # one line and exit 4, as every command reports it
                typer.echo(f"error (os_error): {path}: {exc.strerror or exc}", err=True)
                raise typer.Exit(EXIT_OS) from None
            uploads.append(FingerUpload(str(path), data, finger_position(position)))
        subject = svc.enrol_watchlist_subject(who, subject_id, reference, uploads)
        listed = svc.watchlist_fingers(subject.id)
    except BordermatchError as exc:
        fail(exc, as_json)
        return
    out = {"subject_id": subject.id, "reference": subject.reference,
           "enrolled_by": subject.enrolled_by,
           "fingers": [{"position": f.position, "quality": f.quality} for f in listed]}
    if as_json:
        emit_json(out)
    else:
        typer.echo(f"enrolled {subject.id} ({len(listed)} fingers: " + ", ".join(
            f"{f.position} NFIQ2 {f.quality}" for f in listed) + f") as {subject.enrolled_by}")


app.command("add")(add)
