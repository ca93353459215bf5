"""End to end on the real face engine: enrol, gate encounters, crossings, verify, boarding,
idempotency, alias alerts, review, audit. Public-domain photos only."""

from __future__ import annotations

from tests.api.api_helpers import auth, officer_view

MANIFEST = (
    "traveler_id,given_names,surname,document_type,document_number,nationality,citizen,photo\n"
    "T-OBAMA,Barack,Obama,P,X100,USA,true,obama.jpg\n"
    "T-BIDEN,Joseph,Biden,P,X200,CAN,false,biden.jpg\n"
    "T-NOPIC,No,Photo,P,X300,USA,true,missing.jpg\n"
)


def _enrol_manifest(client, tokens, gallery, photos):
    files = [("manifest", ("manifest.csv", MANIFEST.encode(), "text/csv")),
             ("photos", ("obama.jpg", photos["obama"], "image/jpeg")),
             ("photos", ("biden.jpg", photos["biden"], "image/jpeg"))]
    r = client.post(f"/v1/galleries/{gallery}/manifest", headers=auth(tokens["admin"]),
                    files=files)
    assert r.status_code == 200, r.text
    return r.json()


def _gate(client, tokens, gallery, photo, key=None, direction="exit"):
    headers = auth(tokens["gate_device"]) | ({"Idempotency-Key": key} if key else {})
    return client.post("/v1/encounters/gate", headers=headers,
                       data={"gallery_id": gallery, "lane": "gate-7", "direction": direction},
                       files={"photo": ("p.jpg", photo, "image/jpeg")})


def test_manifest_gate_crossing_and_idempotency(client, tokens, gallery, photos, app):
    report = _enrol_manifest(client, tokens, gallery, photos)
    by_id = {row["traveler_id"]: row for row in report["rows"]}
    assert by_id["T-OBAMA"]["status"] == by_id["T-BIDEN"]["status"] == "enrolled"
    assert by_id["T-NOPIC"]["status"] == "error" and report["errors"] == 1

    r = _gate(client, tokens, gallery, photos["obama2"], key="evt-1")
    assert r.status_code == 201, r.text
    enc = officer_view(client, tokens, r)
    assert [o["decision"] for o in enc["occupants"]] == ["match"]
    assert enc["occupants"][0]["traveler_id"] == "T-OBAMA"

    again = _gate(client, tokens, gallery, photos["obama2"], key="evt-1")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == enc["id"]
    reused = _gate(client, tokens, gallery, photos["biden2"], key="evt-1")
    assert reused.status_code == 409

    crossings = client.get("/v1/travelers/T-OBAMA/crossings", headers=auth(tokens["officer"]))
    assert crossings.status_code == 200
    assert [(c["direction"], c["method"]) for c in crossings.json()] == [("exit", "biometric")]
    fetched = client.get(f"/v1/encounters/{enc['id']}", headers=auth(tokens["officer"]))
    assert fetched.json()["occupants"] == enc["occupants"]

    stranger = _gate(client, tokens, gallery, _astronaut_jpeg())
    assert [o["decision"] for o in stranger.json()["occupants"]] == ["no_match"]

    # Per-lane match counts need a key; the public page has latency and capture failures.
    public = client.get("/metrics").text
    assert "bordermatch_request_seconds_bucket" in public
    assert "bordermatch_decisions_total" not in public
    text = client.get("/v1/metrics", headers=auth(tokens["supervisor"])).text
    assert 'bordermatch_decisions_total{decision="match",lane="gate-7",row="na"} 1.0' in text


def _astronaut_jpeg() -> bytes:
    import io

    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="JPEG")
    return buf.getvalue()


def test_alias_alert_and_review_adjudication(client, tokens, gallery, photos):
    def enrol(tid, photo):
        return client.post(
            f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
            data={"traveler_id": tid, "given_names": "A", "surname": "B", "document_type": "P",
                  "document_number": tid, "nationality": "USA", "citizen": "true"},
            files={"photo": ("p.jpg", photo, "image/jpeg")})

    assert enrol("T-1", photos["obama"]).json()["alias_alerts"] == []
    assert enrol("T-2", photos["biden"]).json()["alias_alerts"] == []
    alias = enrol("T-3", photos["obama2"]).json()  # the same face under a second identity
    assert len(alias["alias_alerts"]) == 1
    queue = client.get("/v1/review", headers=auth(tokens["officer"])).json()
    item = next(i for i in queue if i["id"] == alias["alias_alerts"][0])
    assert (item["kind"], item["traveler_id"], item["other_traveler_id"]) == ("alias", "T-3",
                                                                              "T-1")
    # While the alert is open, a face that reaches both identities is for an officer.
    held = officer_view(client, tokens, _gate(client, tokens, gallery,
                                              photos["obama"]))["occupants"]
    assert [(o["traveler_id"], o["decision"], o["reason"]) for o in held] == [
        ("T-1", "review", "alias")]
    assert [o["decision"] for o in _gate(client, tokens, gallery, photos["biden2"]).json()[
        "occupants"]] == ["match"]  # an unflagged traveller is unaffected
    r = client.post(f"/v1/review/{item['id']}/decision", headers=auth(tokens["supervisor"]),
                    json={"decision": "reject", "reason": "same person, second passport"})
    assert r.status_code == 200
    # Closing the alert does not let a face that fits two identities through: the runner-up
    # rule holds it, flagged or not (one decision rule for gates and lanes).
    after = officer_view(client, tokens, _gate(client, tokens, gallery,
                                               photos["obama"]))["occupants"]
    assert [(o["traveler_id"], o["decision"], o["reason"]) for o in after] == [
        ("T-1", "review", "runner_up")]
    assert r.json()["decided_by"] == "test supervisor" and r.json()["status"] == "rejected"
    twice = client.post(f"/v1/review/{item['id']}/decision", headers=auth(tokens["officer"]),
                        json={"decision": "accept", "reason": "x"})
    assert twice.status_code == 409


def test_an_ambiguous_enrolment_photo_is_refused(client, tokens, gallery, ambiguous_photo):
    r = client.post(
        f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
        data={"traveler_id": "T-TWO", "given_names": "A", "surname": "B", "document_type": "P",
              "document_number": "Z1", "nationality": "USA", "citizen": "true"},
        files={"photo": ("p.jpg", ambiguous_photo.read_bytes(), "image/jpeg")})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "ambiguous_face" and "similar size" in r.json()["detail"]


def test_manifest_rows_of_one_traveller_and_repeated_documents(client, tokens, gallery,
                                                               photos):
    manifest = MANIFEST + ("T-OBAMA,Barack,Obama,V,X101,USA,true,obama.jpg\n"
                           "T-COPY,Copy,Cat,P,X100,USA,true,biden.jpg\n"
                           "T-BIDEN,Joe,Biden,P,X201,CAN,false,biden.jpg\n")
    files = [("manifest", ("manifest.csv", manifest.encode(), "text/csv")),
             ("photos", ("obama.jpg", photos["obama"], "image/jpeg")),
             ("photos", ("biden.jpg", photos["biden"], "image/jpeg"))]
    r = client.post(f"/v1/galleries/{gallery}/manifest", headers=auth(tokens["admin"]),
                    files=files)
    assert r.status_code == 200, r.text
    got = [(row["line"], row["status"], row["error"]) for row in r.json()["rows"]]
    assert got == [(2, "enrolled", None), (3, "enrolled", None),
                   (4, "error", "bad_input"),  # T-NOPIC: its photo was not uploaded
                   (5, "enrolled", None),  # T-OBAMA's visa: a second reference
                   (6, "error", "duplicate_document"),
                   (7, "error", "traveler_mismatch")]


def test_verify_1to1(client, tokens, photos):
    def verify(a, b):
        r = client.post("/v1/verify", headers=auth(tokens["gate_device"]),
                        files={"live": ("a.jpg", a, "image/jpeg"),
                               "document": ("b.jpg", b, "image/jpeg")})
        assert r.status_code == 200, r.text
        return r.json()

    assert verify(photos["obama2"], photos["obama"])["decision"] == "match"
    assert verify(photos["biden"], photos["obama"])["decision"] == "no_match"


def test_board_reveals_only_match_and_token(client, tokens, gallery, photos):
    _enrol_manifest(client, tokens, gallery, photos)
    r = client.post(f"/v1/gate/{gallery}/board", headers=auth(tokens["airline_partner"]),
                    data={"gate": "B12"}, files={"photo": ("p.jpg", photos["biden2"],
                                                           "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"match", "boarding_token"} and body["match"] is True
    assert len(body["boarding_token"]) >= 20
    assert "Biden" not in r.text and "T-BIDEN" not in r.text
    miss = client.post(f"/v1/gate/{gallery}/board", headers=auth(tokens["airline_partner"]),
                       files={"photo": ("p.jpg", _astronaut_jpeg(), "image/jpeg")}).json()
    assert miss == {"match": False, "boarding_token": None}
    crossings = client.get("/v1/travelers/T-BIDEN/crossings", headers=auth(tokens["officer"]))
    assert [c["lane"] for c in crossings.json()] == ["gate:B12"]


def test_audit_log_records_pii_access_and_verifies(client, tokens, gallery, photos):
    _enrol_manifest(client, tokens, gallery, photos)
    client.get("/v1/travelers/T-OBAMA/crossings", headers=auth(tokens["officer"]))
    entries = client.get("/v1/audit", headers=auth(tokens["auditor"])).json()
    actions = [(e["action"], e["resource_id"]) for e in entries]
    assert ("enrolment.create", "T-OBAMA") in actions
    assert ("crossings.read", "T-OBAMA") in actions
    officer = next(e for e in entries if e["action"] == "crossings.read")
    assert officer["actor"].startswith("test officer") and officer["role"] == "officer"
    assert client.get("/v1/audit/verify", headers=auth(tokens["auditor"])).json()["ok"]


def test_photo_without_a_face_is_a_counted_capture_failure(client, tokens, gallery):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 200, 200)).save(buf, format="PNG")
    r = _gate(client, tokens, gallery, buf.getvalue())
    assert r.status_code == 201, r.text
    assert [o["decision"] for o in r.json()["occupants"]] == ["no_capture"]
    text = client.get("/metrics").text
    assert 'bordermatch_capture_failures_total{lane="gate-7"} 1.0' in text
