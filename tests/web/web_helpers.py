"""Seeding review items and signing in, for the page tests (TestClient or httpx)."""

from __future__ import annotations

import re

from tests.api.api_helpers import auth

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    if m is None:
        raise AssertionError("no CSRF field in the page")
    return m.group(1)


def enrol(client, token: str, gallery: str, traveler_id: str, photo: bytes | None = None,
          opt_out: bool = False, surname: str = "Traveller"):
    data = {"traveler_id": traveler_id, "given_names": "Pat", "surname": surname,
            "document_type": "P", "document_number": f"D-{traveler_id}",
            "nationality": "USA", "citizen": "false", "opt_out": str(opt_out).lower()}
    files = {"photo": ("p.jpg", photo, "image/jpeg")} if photo is not None else None
    if files is None:
        # A form with no file part: url-encoded is the natural content type.
        r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(token), data=data)
    else:
        r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(token), data=data,
                        files=files)
    assert r.status_code == 201, r.text
    return r.json()


def manual_inspection_item(client, tokens: dict[str, str], gallery: str,
                           traveler_id: str = "T-OPT") -> str:
    """An opt-out at a gate: no capture, a manual-inspection review item (no engine needed)."""
    enrol(client, tokens["officer"], gallery, traveler_id, opt_out=True, surname="Optout")
    r = client.post("/v1/encounters/opt-out", headers=auth(tokens["gate_device"]),
                    json={"gallery_id": gallery, "lane": "gate-3", "direction": "entry",
                          "traveler_id": traveler_id})
    assert r.status_code == 201, r.text
    queue = client.get("/v1/review", headers=auth(tokens["officer"]),
                       params={"kind": "manual_inspection"}).json()
    return next(i["id"] for i in queue if i["traveler_id"] == traveler_id)


def alias_item(client, tokens: dict[str, str], gallery: str, photos: dict[str, bytes]) -> str:
    """The same face enrolled under two identities raises an alias alert (real engine)."""
    enrol(client, tokens["officer"], gallery, "T-A1", photos["obama"], surname="First")
    raised = enrol(client, tokens["officer"], gallery, "T-A2", photos["obama2"],
                   surname="Second")["alias_alerts"]
    assert len(raised) == 1, raised
    return raised[0]


def sign_in(client, token: str):
    """Sign in through the form; returns the final response (the queue on success)."""
    page = client.get("/review/login")
    return client.post("/review/login", data={"api_key": token, "csrf": csrf_of(page.text)})


PHOTO = re.compile(r'/photos/((?:ref|cap)-[0-9a-f-]{36})')


def photo_ids(html: str) -> list[str]:
    """The photo ids an item page loads as images, in page order (repeats removed)."""
    return list(dict.fromkeys(PHOTO.findall(html)))


def gate(client, tokens, gallery: str, photo: bytes, lane: str = "gate-7"):
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    data={"gallery_id": gallery, "lane": lane, "direction": "entry"},
                    files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
    return r.json()


def item_for(client, tokens, encounter_id: str, kind: str = "encounter") -> str:
    queue = client.get("/v1/review", headers=auth(tokens["officer"]),
                       params={"kind": kind}).json()
    return next(i["id"] for i in queue if i["encounter_id"] == encounter_id)
