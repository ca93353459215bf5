"""POST /v1/documents/verify end to end, on SQLite and PostgreSQL, on the real face engine:
a chip read (passive authentication against a trust store the CLI wrote) or an MRZ with a
data-page photo, compared 1:1 with a live photo; the record, the review item, the stored
document photo and its retention; a booth read passed on to a vehicle encounter."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.api.api_helpers import auth, officer_view
from tests.api.booth_helpers import (
    BOOTH_LANE,
    BOOTH_NOW,
    booth,
    chip_of,
    data_page,
    enrol,
    mrz_lines,
)
from tests.documents.pki import make_pki

from bordermatch.store.tables import AuditEvent, Crossing, DocumentRead, Occupant, ReviewItem

OBAMA_MRZ = mrz_lines("OBAMA", "BARACK", "X100")


@pytest.fixture
def enrolled(client, tokens, gallery, photos) -> str:
    enrol(client, tokens, gallery, "T-OBAMA", photos["obama"], "X100")
    enrol(client, tokens, gallery, "T-BIDEN", photos["biden"], "X200", citizen=False)
    return gallery


def _rows(app, table, **where):
    with app.state.service.sessions() as s:
        stmt = select(table).filter_by(**where)
        return list(s.scalars(stmt))


def test_a_valid_chip_whose_photo_matches_records_a_crossing(client, tokens, enrolled, photos,
                                                             passports, app, clock):
    chip = chip_of(photos["obama"], OBAMA_MRZ, passports.pki)
    r = booth(client, tokens["booth_device"], enrolled, photos["obama2"], chip=chip)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["decision"] == "match" and body["reasons"] == [] and body["face"] == "match"
    assert body["kind"] == "booth" and body["lane"] == BOOTH_LANE
    doc = body["document"]
    assert doc["passive_authentication"]["status"] == "valid"
    assert doc["source"] == "chip" and doc["document_number"] == "X100"
    assert doc["mrz_valid"] and not doc["expired"] and doc["expiry_date"] == "2031-05-01"
    assert {c["field"] for c in doc["mrz_checks"]} >= {"document_number", "composite"}
    assert body["document_read"] == {"document_type": "P", "document_number": "X100",
                                     "nationality": "USA", "source": "chip"}
    # A device learns decisions, not who the document names nor how well the face scored.
    assert "T-OBAMA" not in r.text and "score" not in body and "traveler_id" not in body

    enc = officer_view(client, tokens, r)
    [occ] = enc["occupants"]
    assert (occ["traveler_id"], occ["source"], occ["decision"]) == ("T-OBAMA", "document",
                                                                   "match")
    assert occ["score"] is not None
    assert enc["document"]["passive_authentication"]["status"] == "valid"
    [crossing] = _rows(app, Crossing, encounter_id=body["id"])
    assert (crossing.traveler_id, crossing.direction, crossing.lane) == ("T-OBAMA", "entry",
                                                                         BOOTH_LANE)
    [audit] = _rows(app, AuditEvent, action="encounter.booth")
    assert audit.resource_id == body["id"] and audit.detail["travelers"] == ["T-OBAMA"]
    # The chip photo is kept like any photo: a citizen's for at most 12 hours.
    [read] = _rows(app, DocumentRead, encounter_id=body["id"])
    assert read.photo_blob and read.purge_after <= clock.now() + timedelta(hours=12)
    assert app.state.service.blobs.get(read.photo_blob, kind="image")[:4] == b"\x89PNG"


def test_kiosk_and_the_same_face_at_verify(client, tokens, enrolled, photos, passports):
    """A kiosk gets the booth's answer; the 1:1 outcome is /v1/verify's for the same pair."""
    chip = chip_of(photos["obama"], OBAMA_MRZ, passports.pki)
    r = booth(client, tokens["kiosk_device"], enrolled, photos["biden2"], chip=chip)
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "kiosk" and r.json()["face"] == "no_match"
    v = client.post("/v1/verify", headers=auth(tokens["officer"]),
                    files={"live": ("a.jpg", photos["biden2"], "image/jpeg"),
                           "document": ("b.png", _chip_photo_png(chip), "image/png")})
    assert v.json()["decision"] == "no_match"


def _chip_photo_png(chip) -> bytes:
    import io

    from PIL import Image

    from bordermatch.documents import lds

    buf = io.BytesIO()
    Image.fromarray(lds.decode_face(lds.parse_dg2(chip["dg2"])[0])).save(buf, format="PNG")
    return buf.getvalue()


def test_a_swapped_chip_photo_is_tampered_and_goes_to_review(client, tokens, enrolled, photos,
                                                             passports, app):
    # Biden's photo written over the chip of Obama's passport: the face matches the chip,
    # passive authentication does not.
    chip = chip_of(photos["biden"], OBAMA_MRZ, passports.pki, signed_photo=photos["obama"])
    r = booth(client, tokens["booth_device"], enrolled, photos["biden2"], chip=chip)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["decision"] == "review" and body["reasons"][0] == "tampered_chip"
    assert body["face"] == "match" and body["document_read"] is None
    pa = body["document"]["passive_authentication"]
    assert pa["status"] == "tampered" and any("DG2" in d for d in pa["details"])
    [item] = _rows(app, ReviewItem, encounter_id=body["id"])
    assert (item.kind, item.traveler_id, _held_for(app, item)) == ("encounter", "T-OBAMA",
                                                                   "tampered_chip")
    [audit] = _rows(app, AuditEvent, action="encounter.booth", resource_id=body["id"])
    assert audit.detail["documents"] == [{"source": "chip", "passive_auth": "tampered",
                                          "reasons": ["tampered_chip"]}]
    queue = client.get("/v1/review", headers=auth(tokens["officer"])).json()
    assert [i["id"] for i in queue if i["encounter_id"] == body["id"]] == [item.id]
    # The reviewing officer sees the capture and the chip's photo beside the enrolled one.
    page = app.state.service.review_page(_officer(app), item.id)
    stored = {pid.split("-")[0] for pid, state in page.photos.items() if state == "stored"}
    assert stored == {"ref", "cap", "doc"}
    assert not _rows(app, Crossing, encounter_id=body["id"])
    officer = officer_view(client, tokens, r)
    assert officer["occupants"][0]["reason"] == "tampered_chip"
    assert officer["document"]["passive_authentication"]["status"] == "tampered"


def _held_for(app, item) -> str | None:
    """Why a review item was raised: the reason of the occupant it holds."""
    [occ] = _rows(app, Occupant, id=item.occupant_id)
    return occ.reason


def _officer(app):
    from bordermatch.store.keys import Principal

    return Principal("k-officer", "Olive Officer", "officer")


def test_a_chip_signed_under_an_unknown_csca_is_untrusted(client, tokens, enrolled, photos):
    chip = chip_of(photos["obama"], OBAMA_MRZ, make_pki("rsa", name="CSCA Atlantis"))
    r = booth(client, tokens["booth_device"], enrolled, photos["obama2"], chip=chip)
    body = r.json()
    assert r.status_code == 201 and body["decision"] == "review"
    assert body["reasons"] == ["untrusted_chip"] and body["face"] == "match"
    assert body["document"]["passive_authentication"]["status"] == "untrusted"


def test_mrz_and_data_page_photo(client, tokens, enrolled, photos, app):
    page = data_page(photos["obama"])
    r = booth(client, tokens["booth_device"], enrolled, photos["obama2"], mrz=OBAMA_MRZ,
              page=page)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["decision"] == "match" and body["document"]["source"] == "mrz"
    assert body["document"]["passive_authentication"] is None
    assert body["document_read"]["source"] == "mrz"
    [read] = _rows(app, DocumentRead, encounter_id=body["id"])
    # Only the portrait is kept, not the whole page with its MRZ.
    from bordermatch.io.images import decode_image

    kept = decode_image(app.state.service.blobs.get(read.photo_blob, kind="image"))
    assert kept.shape[0] < 480 and kept.shape[1] < 380


def test_a_face_that_does_not_match_goes_to_review(client, tokens, enrolled, photos,
                                                   passports, app):
    chip = chip_of(photos["obama"], OBAMA_MRZ, passports.pki)
    r = booth(client, tokens["booth_device"], enrolled, photos["biden2"], chip=chip)
    body = r.json()
    assert body["decision"] == "review" and body["reasons"] == ["no_match"]
    assert body["document"]["passive_authentication"]["status"] == "valid"
    [item] = _rows(app, ReviewItem, encounter_id=body["id"])
    assert _held_for(app, item) == "no_match" and item.traveler_id == "T-OBAMA"
    # Accepting it (the officer checked the traveller) records the crossing.
    d = client.post(f"/v1/review/{item.id}/decision", headers=auth(tokens["officer"]),
                    json={"decision": "accept", "reason": "checked the passport by hand"})
    assert d.status_code == 200, d.text
    [crossing] = _rows(app, Crossing, encounter_id=body["id"])
    assert crossing.method == "officer_review"


def test_an_expired_passport_and_an_unknown_one(client, tokens, enrolled, photos, passports,
                                                app):
    old = mrz_lines("OBAMA", "BARACK", "X100", expiry=BOOTH_NOW.date() - timedelta(days=1))
    r = booth(client, tokens["booth_device"], enrolled, photos["obama2"],
              chip=chip_of(photos["obama"], old, passports.pki))
    assert r.json()["reasons"] == ["expired_document"] and r.json()["document"]["expired"]
    # A passport nobody enrolled: the answer looks the same, no crossing can be recorded.
    stranger = mrz_lines("OBAMA", "BARACK", "Z999")
    r = booth(client, tokens["booth_device"], enrolled, photos["obama2"],
              chip=chip_of(photos["obama"], stranger, passports.pki))
    assert r.json()["decision"] == "match"
    assert not _rows(app, Crossing, encounter_id=r.json()["id"])
    assert officer_view(client, tokens, r)["occupants"][0]["traveler_id"] is None


def test_retry_replays_and_retention_purges_the_document_photo(client, tokens, enrolled,
                                                               photos, passports, app, clock):
    chip = chip_of(photos["obama"], OBAMA_MRZ, passports.pki)
    first = booth(client, tokens["booth_device"], enrolled, photos["obama2"], chip=chip,
                  key="booth-1")
    again = booth(client, tokens["booth_device"], enrolled, photos["obama2"], chip=chip,
                  key="booth-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    other = booth(client, tokens["booth_device"], enrolled, photos["biden2"], chip=chip,
                  key="booth-1")
    assert other.status_code == 409
    [read] = _rows(app, DocumentRead, encounter_id=first.json()["id"])
    blob = read.photo_blob
    clock.advance(hours=12, seconds=1)
    report = app.state.service.purge()
    assert report.document_reads == 1
    [read] = _rows(app, DocumentRead, encounter_id=first.json()["id"])
    assert read.photo_blob is None and read.purged_at is not None
    assert blob not in set(app.state.service.blobs.ids())


def test_roles_and_lanes(client, tokens, enrolled, photos, passports):
    chip = chip_of(photos["obama"], OBAMA_MRZ, passports.pki)
    for role in ("gate_device", "airline_partner", "lane_device", "officer", "admin"):
        r = booth(client, tokens[role], enrolled, photos["obama2"], chip=chip)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", role
    r = booth(client, tokens["booth_device"], enrolled, photos["obama2"], chip=chip,
              lane="gate-9")
    assert r.status_code == 403 and r.json()["code"] == "lane_not_bound"


def test_a_booth_read_is_a_document_read_for_the_vehicle(client, tokens, enrolled, photos,
                                                         passports):
    """The booth's ``document_read`` goes verbatim into the vehicle event's ``documents``:
    the lane then verifies the car's face 1:few against the traveller it names."""
    from tests.api.test_api_vehicle import EVENT, _one, _submit

    chip = chip_of(photos["obama"], OBAMA_MRZ, passports.pki)
    read = booth(client, tokens["booth_device"], enrolled, photos["obama2"],
                 chip=chip).json()["document_read"]
    event = EVENT | {"started_at": BOOTH_NOW.isoformat(), "documents": [read]}
    frames = [(f"ws/{k:04d}_{k * 100}.jpg", _one(photos, "obama2", 10 * k)) for k in range(2)]
    r = _submit(client, tokens, enrolled, json.loads(json.dumps(event)), frames)
    [occ] = officer_view(client, tokens, r)["occupants"]
    assert (occ["traveler_id"], occ["decision"], occ["source"]) == ("T-OBAMA", "match",
                                                                   "document")


def test_a_non_citizen_s_document_photo_follows_their_retention(client, tokens, enrolled,
                                                                photos, passports, app,
                                                                clock):
    biden = mrz_lines("BIDEN", "JOSEPH", "X200")
    r = booth(client, tokens["booth_device"], enrolled, photos["biden2"],
              chip=chip_of(photos["biden"], biden, passports.pki))
    assert r.json()["decision"] == "match", r.text
    [read] = _rows(app, DocumentRead, encounter_id=r.json()["id"])
    assert read.traveler_id == "T-BIDEN"
    assert read.purge_after > clock.now() + timedelta(days=13)
    # Made a citizen: the document photo goes within the citizens' 12 hours.
    p = client.patch("/v1/travelers/T-BIDEN", headers=auth(tokens["supervisor"]),
                     json={"citizen": True, "reason": "naturalised"})
    assert p.status_code == 200, p.text
    [read] = _rows(app, DocumentRead, encounter_id=r.json()["id"])
    assert read.purge_after <= clock.now() + timedelta(hours=12)


def test_an_opted_out_traveller_is_inspected_by_hand_and_nothing_is_kept(client, tokens,
                                                                         gallery, photos,
                                                                         passports, app):
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                    data={"traveler_id": "T-OUT", "given_names": "O", "surname": "Out",
                          "document_type": "P", "document_number": "X100",
                          "nationality": "USA", "citizen": "true", "opt_out": "true"})
    assert r.status_code == 201, r.text
    before = set(app.state.service.blobs.ids())
    r = booth(client, tokens["booth_device"], gallery, photos["obama2"],
              chip=chip_of(photos["obama"], OBAMA_MRZ, passports.pki))
    body = r.json()
    assert body["decision"] == "manual_inspection" and body["reasons"] == ["opted_out"]
    assert body["document_read"] is None
    [item] = _rows(app, ReviewItem, encounter_id=body["id"])
    assert (item.kind, item.traveler_id, _held_for(app, item)) == ("manual_inspection",
                                                                   "T-OUT", "opted_out")
    [read] = _rows(app, DocumentRead, encounter_id=body["id"])
    assert read.photo_blob is None and set(app.state.service.blobs.ids()) == before
