"""``bordermatch gate simulate``: board a simulated flight through a running service.

Everything goes over HTTP, as the real parties do: the admin creates a flight gallery and
uploads its manifest with the reference photos (``POST /v1/galleries/{id}/manifest``), then
the airline partner's gate posts one photo per passenger (``POST /v1/gate/{id}/board``)
and keeps only the answer it is given: match or no match. Passengers come from LFW
(``eval/gate_sim.py``).
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from bordermatch.cli._common import EXIT_INPUT, EXIT_OS, emit_json
from bordermatch.cli.progress import Output, Progress, output, progress
from bordermatch.errors import BordermatchError, InputError

if TYPE_CHECKING:
    from bordermatch.eval.gate_sim import Answer, Passenger

app = typer.Typer(no_args_is_help=True, help="Departure gates: simulate a boarding.")

EXIT_SERVICE = 6  # the service refused a request or could not be reached (README, exit codes)


class ServiceError(Exception):
    """A request the service refused (its problem+json code) or that never reached it."""

    def __init__(self, what: str, code: str, detail: str) -> None:
        super().__init__(f"{what}: {code}: {detail}")
        self.code = code


def _problem(what: str, response) -> ServiceError:
    try:
        body = response.json()
        return ServiceError(what, body.get("code", str(response.status_code)),
                            body.get("detail") or body.get("title") or "")
    except ValueError:
        return ServiceError(what, f"http_{response.status_code}", response.text[:200])


def _check(what: str, response, *ok: int):
    if response.status_code not in ok:
        raise _problem(what, response)
    return response.json()


def _manifest_csv(rows: list[dict[str, str]]) -> bytes:
    from bordermatch.gallery.manifest import COLUMNS

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _create_flight(client, admin: str, name: str, gate: str) -> str:
    now = datetime.now(UTC)
    # The partner's key is bound to gate:<gate>, and the flight must be served by that gate.
    body = {"name": name, "kind": "flight", "lanes": [f"gate:{gate}"],
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(hours=12)).isoformat()}
    return _check("create gallery", client.post("/v1/galleries", json=body,
                                                headers={"X-API-Key": admin}), 201)["id"]


def _enrol(client, admin: str, gallery: str, passengers, batch: int, out: Output
           ) -> tuple[set[str], dict[str, int]]:
    """Upload the manifest in batches: the traveller ids enrolled, and the rows refused
    by reason (e.g. ``ambiguous_face``: the reference photo has no clear subject)."""
    from bordermatch.eval.gate_sim import manifest_rows

    by_id = {p.traveler_id: p for p in passengers if p.mated}
    rows = manifest_rows(by_id.values())
    enrolled: set[str] = set()
    refused: dict[str, int] = {}
    with progress("enrolling", "traveller", out, total=len(rows)) as bar:
        for start in range(0, len(rows), batch):
            _enrol_batch(client, admin, gallery, rows[start:start + batch], by_id,
                         enrolled, refused, bar)
    return enrolled, refused


def _enrol_batch(client, admin: str, gallery: str, chunk: list[dict[str, str]], by_id,
                 enrolled: set[str], refused: dict[str, int], bar: Progress) -> None:
    # Each row's `photo` is photos/<file>; the part is uploaded under that same name,
    # which the service pairs exactly (it would also pair the bare file name).
    files = [("manifest", ("manifest.csv", _manifest_csv(chunk), "text/csv"))]
    for row in chunk:
        ref = by_id[row["traveler_id"]].reference
        assert ref is not None  # manifest_rows lists mated passengers only
        files.append(("photos", (row["photo"], ref.read_bytes(), "image/jpeg")))
    report = _check("manifest upload", client.post(
        f"/v1/galleries/{gallery}/manifest", files=files, headers={"X-API-Key": admin}), 200)
    for r in report["rows"]:
        if r["status"] == "error":
            refused[r["error"]] = refused.get(r["error"], 0) + 1
        else:
            enrolled.add(r["traveler_id"])
    bar.advance(len(chunk))


def _board(client, partner: str, gallery: str, gate: str, passengers, frame: float,
           run_id: str, out: Output) -> list[Answer]:
    answers = []
    with progress("boarding", "passenger", out, total=len(passengers)) as bar:
        for i, p in enumerate(passengers):
            answers.append(_board_one(client, partner, gallery, gate, p, frame,
                                      f"{run_id}-{i}"))
            bar.advance()
    return answers


def _board_one(client, partner: str, gallery: str, gate: str, p: Passenger, frame: float,
               idempotency_key: str) -> Answer:
    """One passenger at the gate, timed as the gate device waits for the answer."""
    from bordermatch.eval.gate_sim import Answer, gate_view

    photo = gate_view(p.gate_photo, frame)
    t0 = time.perf_counter()
    r = client.post(f"/v1/gate/{gallery}/board", data={"gate": gate},
                    files={"photo": (p.gate_photo.name, photo, "image/jpeg")},
                    headers={"X-API-Key": partner, "Idempotency-Key": idempotency_key})
    seconds = time.perf_counter() - t0
    if r.status_code == 200:
        return Answer(p, bool(r.json()["match"]), seconds)
    if r.status_code == 422:
        # No usable face (or two): the partner gets no match and sends them to the desk.
        return Answer(p, False, seconds, error=_problem("board", r).code)
    raise _problem(f"board {p.traveler_id}", r)


def _reference_ms(passengers, n: int, frame: float) -> float | None:
    """p50 of the face work of one gate photo in this process (decode, detect, align,
    quality, embed), with the service's default engine: what the round trip is set against."""
    if n <= 0:
        return None
    import numpy as np

    from bordermatch.config import Settings
    from bordermatch.eval.gate_sim import gate_view
    from bordermatch.io.images import decode_image
    from bordermatch.match.engine import FaceEngine

    settings = Settings()
    engine = FaceEngine.from_settings(settings)
    model = engine.matcher.first_models[0]
    photos = [gate_view(p.gate_photo, frame) for p in passengers[:n]]
    engine.samples(decode_image(photos[0], settings.limits, name="warm-up"), models=[model])
    times = []
    for i, data in enumerate(photos):
        t0 = time.perf_counter()
        engine.samples(decode_image(data, settings.limits, name=f"reference {i}"),
                       models=[model])
        times.append(time.perf_counter() - t0)
    return float(np.percentile(np.asarray(times) * 1000.0, 50))


@app.command("simulate")
def simulate(
    service: str = typer.Option(..., "--service", help="Base URL, e.g. http://127.0.0.1:8000"),
    admin_key: str = typer.Option(..., "--admin-key", envvar="BM_ADMIN_KEY",
                                  help="An admin key: creates the gallery, uploads the manifest."),
    partner_key: str = typer.Option(..., "--partner-key", "--api-key",
                                    envvar="BM_PARTNER_KEY",
                                    help="An airline_partner key bound to gate:<--gate>."),
    passengers: int = typer.Option(..., "--passengers", help="Passengers who board."),
    seed: int = typer.Option(0, "--seed", help="Which people, photos and order."),
    gate: str = typer.Option("B12", "--gate", help="The gate (the key's lane is gate:<gate>)."),
    lfw_dir: Path = typer.Option(Path("../shared/data/lfw"), "--lfw-dir",
                                 help="LFW copy holding lfw-deepfunneled/<Name>/*.jpg."),
    non_mated_share: float = typer.Option(
        0.5, "--non-mated-share", help="Share of passengers not on the manifest."),
    frame: float = typer.Option(
        0.6, "--frame", help="The gate camera's view: the central share of each LFW photo "
        "sent at the gate (LFW shows bystanders; 1 sends the photo whole)."),
    target_fpir: float = typer.Option(
        0.003, "--target-fpir", help="The FPIR the report checks the observed one against."),
    batch: int = typer.Option(50, "--batch", min=1, help="Manifest rows per upload."),
    reference: int = typer.Option(
        0, "--reference", min=0,
        help="Also time the face work of this many gate photos in this process."),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds per HTTP request."),
    close: bool = typer.Option(True, "--close/--keep-open",
                               help="Close the flight gallery after boarding."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Board N simulated passengers through a running service and report FNIR, FPIR and
    the time per passenger."""
    import httpx

    from bordermatch.eval.gate_sim import choose_passengers, lfw_people, summarise

    def fail(code: str, detail: str, exit_code: int) -> NoReturn:
        if as_json:
            emit_json({"error": code, "detail": detail})
        else:
            typer.echo(f"error ({code}): {detail}", err=True)
        raise typer.Exit(exit_code)

    try:
        chosen = choose_passengers(lfw_people(lfw_dir), passengers, non_mated_share, seed)
        if not 0.0 < frame <= 1.0:
            raise InputError(f"--frame must be within (0, 1], not {frame}")
    except BordermatchError as exc:
        fail(exc.code, str(exc), EXIT_INPUT)
    run_id = f"sim-{seed}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    out = output()  # the root -v/-q; the bars are off anyway when stderr is not a terminal
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=service.rstrip("/"), timeout=timeout) as client:
            _check("health check", client.get("/healthz"), 200)
            gallery = _create_flight(client, admin_key, f"Flight {run_id}", gate)
            enrolled, enrol_errors = _enrol(client, admin_key, gallery, chosen, batch, out)
            boarding = [p for p in chosen if not p.mated or p.traveler_id in enrolled]
            answers = _board(client, partner_key, gallery, gate, boarding, frame,
                             run_id, out)
            if close:
                _check("close gallery", client.post(f"/v1/galleries/{gallery}/close",
                                                    headers={"X-API-Key": admin_key}), 200)
    except ServiceError as exc:
        fail(exc.code, str(exc), EXIT_SERVICE)
    except httpx.HTTPError as exc:
        fail("service_unreachable", f"{service}: {exc}", EXIT_SERVICE)
    except OSError as exc:
        fail("os_error", f"{exc.filename or ''}: {exc.strerror or exc}", EXIT_OS)
    summary: dict[str, Any] = summarise(answers, len(chosen) - len(boarding), target_fpir)
    summary.update(enrol_errors=enrol_errors, gallery_id=gallery, seed=seed, gate=gate,
                   frame=frame, wall_s=round(time.perf_counter() - started, 1))
    ref = _reference_ms(boarding, reference, frame)
    if ref is not None:
        summary["reference_ms_p50"] = ref
        summary["p50_over_reference"] = summary["ms_p50"] / ref
    if as_json:
        emit_json(summary)
    else:
        typer.echo(_text(summary))


def _rate(k: int, n: int, rate: float | None, upper: float | None) -> str:
    if rate is None or upper is None:
        return f"{k}/{n} (no passengers)"
    return f"{k}/{n} = {rate:.4f} (95 % upper bound {upper:.4f})"


def _text(s: dict[str, Any]) -> str:
    lines = [
        f"gallery {s['gallery_id']}, gate {s['gate']}, seed {s['seed']}: {s['passengers']} "
        f"passengers boarded ({s['mated']} on the manifest, {s['non_mated']} not), "
        f"{s['failed_to_enrol']} failed to enrol {json.dumps(s['enrol_errors'])}, "
        f"gate view {s['frame']}, {s['wall_s']} s",
        f"FNIR {_rate(s['missed'], s['mated'], s['fnir'], s['fnir_upper_95'])}",
        f"FPIR {_rate(s['false_matches'], s['non_mated'], s['fpir'], s['fpir_upper_95'])}"
        f"; target {s['target_fpir']}: "
        + ("within" if s["within_target_fpir"] else "EXCEEDED")
        + ("" if s["fpir_resolvable"] else
           f" (but {s['non_mated']} non-mated passengers cannot resolve it)"),
    ]
    if s["ms_p50"] is not None:
        lines.append(f"time per passenger: p50 {s['ms_p50']:.0f} ms, p95 {s['ms_p95']:.0f} ms")
    if s.get("reference_ms_p50"):
        lines.append(f"in-process face work p50 {s['reference_ms_p50']:.0f} ms; "
                     f"round trip / reference = {s['p50_over_reference']:.2f}")
    if s["errors"]:
        lines.append(f"refused photos (counted as no match): {s['refused_mated']} mated, "
                     f"{s['refused_non_mated']} non-mated: " + json.dumps(s["errors"]))
    return "\n".join(lines)
