"""The review item page: every reference beside the capture, scores with their false match
rate, the reason as the decision path states it, vehicles, purged photos, audit."""

from __future__ import annotations

import re

from tests.api.api_helpers import auth
from tests.api.test_api_vehicle import EVENT, _frame, _one, _submit
from tests.web.web_helpers import alias_item, enrol, gate, item_for, photo_ids, sign_in

from bordermatch.types import Reason
from bordermatch.web import reasons


def _audit(client, tokens, action: str, item: str) -> list[dict]:
    r = client.get("/v1/audit", headers=auth(tokens["auditor"]),
                   params={"action": action, "resource_id": item})
    assert r.status_code == 200, r.text
    return r.json()


def _reason(html: str) -> str:
    m = re.search(r'data-reason="([a-z_]+)"', html)
    assert m, "no reason on the page"
    return m.group(1)


def test_every_reason_the_code_base_produces_has_a_sentence():
    codes = reasons.every_reason()
    assert {r.value for r in Reason} <= set(codes)
    for code in codes:
        e = reasons.explain(code, {"score": 15.1, "threshold": 5.66, "traveler": "A",
                                   "other": "B", "runner_up": 6.0, "review": 4.6,
                                   "rate": "FPIR", "target": 0.001})
        assert e.title != code and "unknown" not in e.sentence, code
        assert "{" not in e.sentence, code
    fallback = reasons.explain("new_reason", {})
    assert "new_reason" in fallback.sentence


def test_a_normalised_document_decision_says_its_threshold_is_the_captures_own():
    values = {"score": 2.1, "threshold": 0.64, "traveler": "A", "rate": "FMR",
              "target": 0.001}
    plain = reasons.explain("above_threshold", values, "document")
    normed = reasons.explain("above_threshold", values, "document", "snorm")
    assert "verified 1:few" in plain.sentence and "capture's own" not in plain.sentence
    assert normed.sentence.startswith(plain.sentence)
    assert "this capture's own for this traveller" in normed.sentence
    assert "{" not in normed.sentence


def test_an_alias_encounter_says_alias_and_shows_both_identities(client, tokens, gallery,
                                                                   photos):
    """The issue's case: sent to review by an open alias, with a score far above the match
    threshold. The page says so (never "review band") and shows the other identity."""
    alias_item(client, tokens, gallery, photos)  # T-A1 and T-A2: one face, two names
    enc = gate(client, tokens, gallery, photos["obama2"])
    item = item_for(client, tokens, enc["id"])
    queue = sign_in(client, tokens["officer"]).text
    assert "Matches an identity flagged as an alias" in queue  # the reason, in the queue
    page = client.get(f"/review/items/{item}").text
    assert _reason(page) == "alias"
    assert "review band" not in page and "alias alert says" in page
    assert "Pat First (T-A1)" in page and "Pat Second (T-A2)" in page
    assert 'data-identity="traveler"' in page and 'data-identity="other"' in page
    score = float(re.search(r'data-fact="score">([-0-9.]+)', page).group(1))
    threshold = float(re.search(r'data-fact="threshold">([-0-9.]+)', page).group(1))
    assert score >= threshold and 'data-fact="runner_up"' in page
    assert "false match rate at most 1e-05" in page and "FPIR 0.001" in page
    # The capture beside each identity's reference, each pair with its own score.
    ids = photo_ids(page)
    refs, caps = [i for i in ids if i.startswith("ref-")], [i for i in ids if i[:4] == "cap-"]
    assert len(refs) == 2 and len(caps) == 1
    assert page.count(f"/photos/{caps[0]}") == 3  # beside each reference, and in the table
    assert len(re.findall(r'class="pair-score"><span class="score">', page)) == 2
    for pid in ids:
        r = client.get(f"/review/items/{item}/photos/{pid}")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert sorted(e["detail"]["photo"] for e in _audit(client, tokens, "review.photo",
                                                       item)) == sorted(ids)
    read = _audit(client, tokens, "review.read", item)
    assert len(read) == 1 and sorted(read[0]["detail"]["travelers"]) == ["T-A1", "T-A2"]
    # Quality measures of the capture, from the decision's basis.
    assert "Sharpness (0-100)" in page and "Yaw (deg)" in page


def test_alias_alert_at_enrolment(client, tokens, gallery, photos):
    item = alias_item(client, tokens, gallery, photos)
    assert client.get(f"/review/items/{item}/photos/ref-{'0' * 36}",
                      follow_redirects=False).status_code == 303
    sign_in(client, tokens["officer"])
    page = client.get(f"/review/items/{item}").text
    assert _reason(page) == "alias_alert" and "At enrolment this face scored" in page
    assert "Alias alert" in page and "T-A1" in page and "T-A2" in page
    ids = photo_ids(page)
    assert len(ids) == 2 and all(i.startswith("ref-") for i in ids)
    # The new enrolment is the probe: the other identity's reference is scored against it.
    assert len(re.findall(r'class="pair-score"', page)) == 1
    for pid in ids:
        img = client.get(f"/review/items/{item}/photos/{pid}")
        assert img.status_code == 200 and img.content[:2] == b"\xff\xd8"
    # A photo id that is not this item's is refused, as is a malformed one.
    assert client.get(f"/review/items/{item}/photos/ref-{'0' * 36}").status_code == 404
    assert client.get(f"/review/items/{item}/photos/../../x").status_code == 404
    assert client.get(f"/review/items/{item}/photos/traveler").status_code == 404


def test_vehicle_review_shows_lane_time_seat_and_the_other_occupants(client, tokens, gallery,
                                                                      photos):
    for tid, name in (("T-OBAMA", "obama"), ("T-BIDEN", "biden"), ("T-OBAMA-2", "obama")):
        enrol(client, tokens["officer"], gallery, tid, photos[name], surname=tid[2:])
    frames = [(f"ws/{k:04d}_{k * 100}.jpg", _frame(photos, 10 * k)) for k in range(2)]
    r = _submit(client, tokens, gallery, EVENT | {"event_id": "veh-review"}, frames)
    assert r.status_code == 201, r.text
    item = item_for(client, tokens, r.json()["id"])
    sign_in(client, tokens["officer"])
    page = client.get(f"/review/items/{item}").text
    assert _reason(page) == "alias"
    assert 'data-fact="lane">lane-3 (entry)' in page and 'data-fact="time">' in page
    assert 'data-fact="seat">' in page and "<h2>Vehicle</h2>" in page
    rows = re.findall(r'<tr data-occupant="(cap-[0-9a-f-]+)"', page)
    assert len(rows) == 2 and page.count('class="subject"') == 1
    assert "Pat BIDEN (T-BIDEN)" in page and "decision-match" in page
    for pid in rows:  # each occupant's best face was kept and loads
        img = client.get(f"/review/items/{item}/photos/{pid}")
        assert img.status_code == 200 and img.content[:4] == b"\x89PNG"
    assert len(re.findall(r'class="pair-score"', page)) == 2  # capture vs both identities
    assert "Sharpness (0-100)" in page  # the best shot's quality measures


def test_unmatched_document_shows_the_holder_and_who_was_in_the_vehicle(client, tokens,
                                                                         gallery, photos):
    enrol(client, tokens["officer"], gallery, "T-OBAMA", photos["obama"], surname="Holder")
    enrol(client, tokens["officer"], gallery, "T-BIDEN", photos["biden"], surname="Driver")
    reads = [{"document_type": "P", "document_number": "D-T-OBAMA", "nationality": "USA",
              "source": "rfid"}]
    solo = [(f"ws/{k:04d}_{k * 100}.jpg", _one(photos, "biden2", 10 * k)) for k in range(2)]
    r = _submit(client, tokens, gallery, EVENT | {"event_id": "veh-doc", "documents": reads},
                solo)
    assert r.status_code == 201, r.text
    item = item_for(client, tokens, r.json()["id"], "unmatched_document")
    sign_in(client, tokens["officer"])
    page = client.get(f"/review/items/{item}").text
    assert _reason(page) == "unmatched_document"
    assert "The document&#39;s holder: Pat Holder (T-OBAMA)" in page
    assert "D-T-OBAMA (USA)" in page and "Pat Driver (T-BIDEN)" in page
    assert "vs holder" in page  # the nearest face in the vehicle, scored against the holder


def test_purged_photos_show_as_purged_never_as_a_broken_image(client, tokens, gallery, photos,
                                                              app, clock):
    enrol(client, tokens["officer"], gallery, "T-A1", photos["obama"], surname="First")
    enrol(client, tokens["officer"], gallery, "T-A2", photos["obama2"], surname="Second")
    item = item_for(client, tokens, gate(client, tokens, gallery, photos["obama2"])["id"])
    sign_in(client, tokens["officer"])
    before = photo_ids(client.get(f"/review/items/{item}").text)
    assert len(before) == 3
    clock.advance(days=15)  # past the non-citizen retention of enrolments and captures
    report = app.state.service.purge()
    assert report.enrolments == 2 and report.occupants == 1
    sign_in(client, tokens["officer"])  # the session ran out meanwhile
    page = client.get(f"/review/items/{item}").text
    assert photo_ids(page) == [] and "<img" not in page
    assert page.count(">purged</div>") == 3 + 2  # each pair and the occupants table
    for pid in before:
        assert client.get(f"/review/items/{item}/photos/{pid}").status_code == 404


def test_a_blob_gone_from_the_store_shows_as_purged(client, tokens, gallery, photos, app):
    item = alias_item(client, tokens, gallery, photos)
    sign_in(client, tokens["officer"])
    ids = photo_ids(client.get(f"/review/items/{item}").text)
    svc = app.state.service
    from bordermatch.store import review_view

    with svc.sessions() as s:
        rec = review_view._load(s, item)
        blob = review_view.photo_blobs(rec)[ids[0]]
    svc.blobs.delete(blob)  # a purge that raced the page
    page = client.get(f"/review/items/{item}").text
    assert photo_ids(page) == ids[1:] and ">purged</div>" in page


def test_manual_inspection_explains_the_opt_out(client, tokens, gallery):
    from tests.web.web_helpers import manual_inspection_item

    item = manual_inspection_item(client, tokens, gallery)
    sign_in(client, tokens["officer"])
    page = client.get(f"/review/items/{item}").text
    assert _reason(page) == "opted_out" and "declined the photo" in page
    assert "no photo (opted out)" in page and "<img" not in page


def test_review_band_item_and_a_standard_reason_records_the_crossing(client, tokens, gallery,
                                                                      photos, app, clock):
    """A score between the review and the match threshold, as the gate workflow stores it
    (the band itself is exercised by the decision tests; here the page's side matters)."""
    from tests.web.web_helpers import csrf_of

    from bordermatch.match.decide import decide
    from bordermatch.service.core import decision_basis
    from bordermatch.store import repo
    from bordermatch.store.keys import Principal

    enrol(client, tokens["officer"], gallery, "T-R1", photos["obama"], surname="Reviewed")
    svc = app.state.service
    point = svc.thresholds.search
    score = (point.review + point.match) / 2
    d = decide(score, point)
    assert d.reason is Reason.REVIEW_BAND
    capture = svc.blobs.put(photos["obama2"], kind="image")
    device = Principal("gate-1", "gate 1", "gate_device")
    with svc.sessions.begin() as s:
        enc = repo.add_encounter(
            s, device, clock.now(), kind="gate", gallery=repo.get_gallery(s, gallery),
            lane="gate-1", direction="exit", idempotency_key=None, request_hash=None,
            occupants=[repo.OccupantRecord(0, "T-R1", score, "review", 80.0,
                                           capture_blob=capture, reason=d.reason.value,
                                           basis=decision_basis(svc, d, "gallery"))])
        enc_id = enc.id
    item = item_for(client, tokens, enc_id)
    sign_in(client, tokens["officer"])
    page = client.get(f"/review/items/{item}").text
    assert _reason(page) == "review_band"
    assert f"review threshold ({point.review:.2f}) but below the match threshold " \
           f"({point.match:.2f})" in page
    assert "Gate photo" in page and 'data-fact="lane">gate-1 (exit)' in page
    cap = f"/review/items/{item}/photos/cap-"
    assert cap in page and client.get(page[page.index(cap):].split('"')[0]).content \
        == photos["obama2"]
    done = client.post(f"/review/items/{item}/decision", follow_redirects=False,
                       data={"preset": "accept|Same person as the reference photo",
                             "csrf": csrf_of(page)})
    assert done.status_code == 303
    crossings = client.get("/v1/travelers/T-R1/crossings",
                           headers=auth(tokens["officer"])).json()
    assert [(c["method"], c["encounter_id"]) for c in crossings] == [("officer_review", enc_id)]
    bad = client.post(f"/review/items/{item}/decision",
                      data={"preset": "maybe|whatever", "csrf": csrf_of(page)})
    assert bad.status_code == 422
