"""Lane monitor, reports and gallery pages through the ASGI app: roles, data, audit, CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from tests.api.api_helpers import auth
from tests.web.ops_helpers import page_session, seed_gate_lane
from tests.web.web_helpers import alias_item, enrol, manual_inspection_item, sign_in

PAGES = ("/review/monitor", "/review/monitor?lane=gate-3", "/review/monitor/cards?lane=gate-3",
         "/review/monitor/occupants/x/photo", "/review/reports", "/review/reports/det.png",
         "/review/reports/rates.csv", "/review/reports/outcomes.csv", "/review/galleries",
         "/review/galleries/x")


def _audit(client, tokens, action: str) -> list[dict]:
    r = client.get("/v1/audit", headers=auth(tokens["auditor"]), params={"action": action})
    assert r.status_code == 200, r.text
    return r.json()


def _cards(html: str) -> list[str]:
    return re.findall(r'data-encounter="([^"]+)"', html)


def test_pages_need_a_signed_in_person(client, tokens):
    for path in PAGES:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/review/login", path
        # An API key in a header never opens a page: pages know only their own sessions.
        r = client.get(path, headers=auth(tokens["officer"]), follow_redirects=False)
        assert r.status_code == 303, path
    r = client.get("/review/monitor/head.json?lane=gate-3")
    assert r.status_code == 401 and r.json() == {"error": "signed_out"}


def test_device_and_partner_keys_never_reach_a_page(client, tokens):
    for role in ("lane_device", "gate_device", "airline_partner"):
        r = sign_in(client, tokens[role])
        assert r.status_code == 403, role
        assert "bm_review_session" not in client.cookies
        for path in ("/review/monitor", "/review/reports", "/review/galleries"):
            assert client.get(path, follow_redirects=False).status_code == 303


def test_each_role_sees_the_pages_the_role_model_allows(app, client, tokens, gallery):
    from fastapi.testclient import TestClient

    allowed = {"officer": set(PAGES), "supervisor": set(PAGES),
               "auditor": {p for p in PAGES if p.startswith("/review/reports")}}
    for role, paths in allowed.items():
        with TestClient(app, raise_server_exceptions=False) as c:
            page_session(c, app, tokens[role])
            for path in PAGES:
                r = c.get(path.replace("galleries/x", f"galleries/{gallery}"),
                          follow_redirects=False)
                if path not in paths:
                    assert r.status_code == 403, (role, path)
                    assert "may not see this page" in r.text
                elif "occupants/x" in path:
                    assert r.status_code == 404, (role, path)  # allowed, but no such occupant
                else:
                    assert r.status_code == 200, (role, path, r.text[:300])
            head = c.get("/review/monitor/head.json?lane=gate-3")
            assert head.status_code == (200 if role != "auditor" else 403)
    refused = [e for e in _audit(client, tokens, "report.rates") if e["role"] == "auditor"]
    assert refused, "an auditor's report reads are audited"


def test_monitor_shows_the_lane_and_purged_photos_as_purged(app, client, tokens, gallery,
                                                           photos, clock):
    ids = seed_gate_lane(client, tokens, gallery, photos, clock)
    page_session(client, app, tokens["officer"])
    lanes = client.get("/review/monitor")
    assert 'data-lane="gate-3"' in lanes.text
    page = client.get("/review/monitor", params={"lane": "gate-3"})
    assert page.status_code == 200
    assert _cards(page.text) == [ids["blank"], ids["stranger"], ids["match"]]  # newest first
    assert f'data-newest="{ids["blank"]}"' in page.text
    search = app.state.service.thresholds.search
    assert f"matches at {search.match:.2f} or more (FPIR {search.target:g})" in page.text
    blank = page.text.split(f'data-encounter="{ids["blank"]}"')[1].split("</article>")[0]
    assert 'data-decision="no_capture"' in blank and 'data-photo="no_capture"' in blank
    assert 'class="vehicle attention"' in page.text.split(f'data-encounter="{ids["blank"]}"')[0]
    thumbs = re.findall(r'src="(/review/monitor/occupants/[^"]+/photo)"', page.text)
    assert len(thumbs) == 2  # the match and the stranger; the blank photo has no face
    shot = client.get(thumbs[0])
    assert shot.status_code == 200 and shot.content.startswith(b"\x89PNG")
    assert shot.headers["x-photo-state"] == "stored"
    assert len(_audit(client, tokens, "monitor.photo")) == 1
    read = _audit(client, tokens, "monitor.read")
    assert read[-1]["resource_id"] == "gate-3" and len(read[-1]["detail"]["encounters"]) == 3
    head = client.get("/review/monitor/head.json", params={"lane": "gate-3"}).json()
    assert head == {"lane": "gate-3", "newest": ids["blank"], "count": 3}
    fragment = client.get("/review/monitor/cards", params={"lane": "gate-3"})
    assert _cards(fragment.text) == _cards(page.text) and "<html" not in fragment.text

    clock.advance(days=15)  # past the non-citizens' retention
    app.state.service.purge()
    page_session(client, app, tokens["officer"])  # 15 days outlive any page session
    after = client.get("/review/monitor", params={"lane": "gate-3"})
    assert "/photo" not in after.text.split('id="monitor"')[1]  # no image left to break
    assert after.text.count('data-photo="purged"') == 2
    gone = client.get(thumbs[0])
    assert gone.status_code == 200 and gone.headers["content-type"].startswith("image/svg+xml")
    assert gone.headers["x-photo-state"] == "purged" and b"purged" in gone.content


def test_reports_count_the_records_and_export_csv(app, client, tokens, gallery, photos,
                                                   clock):
    seed_gate_lane(client, tokens, gallery, photos, clock)
    item = manual_inspection_item(client, tokens, gallery)  # an opt-out at gate-3
    _hostile_lane(app)
    page_session(client, app, tokens["supervisor"])
    page = client.get("/review/reports", params={"days": 7})
    assert page.status_code == 200
    row = page.text.split('data-key="gate-3"')[1].split("</tr>")[0]
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells == ["gate-3", "4", "4", "1", "2", "1", "0", "66.7 %", "33.3 %"]
    assert 'data-reason="opted_out"' in page.text

    lanes = _csv(client.get("/review/reports/rates.csv", params={"by": "lane"}))
    assert lanes[0] == ["lane", "vehicles", "occupants", "opted_out", "captured", "matched",
                        "review", "capture_rate", "validation_rate"]
    assert ["gate-3", "4", "4", "1", "2", "1", "0", "0.6667", "0.3333"] in lanes
    assert ["'=HYPERLINK(1)", "1", "1", "0", "1", "1", "0", "1.0000", "1.0000"] in lanes
    days = _csv(client.get("/review/reports/rates.csv", params={"by": "day"}))
    assert [r[0] for r in days[1:]] == ["2026-01-01"]
    rows = _csv(client.get("/review/reports/rates.csv", params={"by": "row"}))
    assert [r[:3] for r in rows[1:]] == [["none", "5", "5"]]
    assert client.get("/review/reports/rates.csv", params={"by": "seat"}).status_code == 404
    assert client.get("/review/reports", params={"days": 0}).status_code == 422

    decided = client.post(f"/v1/review/{item}/decision", headers=auth(tokens["officer"]),
                          json={"decision": "accept", "reason": "passport checked"})
    assert decided.status_code == 200, decided.text
    outcomes = _csv(client.get("/review/reports/outcomes.csv"))
    assert outcomes[1:] == [["manual_inspection", "opted_out", "0", "1", "0", "1"]]


def _hostile_lane(app) -> None:
    """An encounter on a lane named like a spreadsheet formula (device-supplied text)."""
    from bordermatch.store import repo
    from bordermatch.store.keys import Principal

    svc = app.state.service
    with svc.sessions.begin() as s:
        g = repo.list_galleries(s)[0][0]
        repo.add_encounter(s, Principal("k-x", "x", "lane_device", ("=HYPERLINK(1)",)),
                           svc.clock.now(), kind="vehicle", gallery=g, lane="=HYPERLINK(1)",
                           direction="entry", idempotency_key=None, request_hash=None,
                           occupants=[repo.OccupantRecord(0, None, 7.0, "match", 60.0)])


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.text)))


def test_det_marks_the_configured_operating_points(app, client, tokens):
    from bordermatch.match.fusion import load_matcher

    page_session(client, app, tokens["auditor"])
    page = client.get("/review/reports")
    th = app.state.service.thresholds
    for name, point in (("verify", th.verify), ("document", th.document), ("alias", th.alias)):
        row = page.text.split(f'data-point="{name}"')[1].split("</tr>")[0]
        assert f"{point.match:.3f}" in row, name
        # The vehicle lanes' document point is a z-value (S-norm), and says so.
        assert (f"{point.normalisation} z" in row) == (point.normalisation is not None), name
    verify = page.text.split('data-point="verify"')[1].split("</tr>")[0]
    sface = load_matcher("sface")
    fnmr = next(1 - m for f, m in _tar(sface.name) if f == 1e-4)
    assert f"{fnmr:.4f}" in verify  # target_fmr 1e-4 sits on the measured 1e-4 point
    assert f"FPIR {th.search.target:g}" in page.text
    png = client.get("/review/reports/det.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert len(png.content) > 10_000


def _tar(matcher: str) -> list[tuple[float, float]]:
    from bordermatch.match.fusion import load_calibration

    meaning = load_calibration()["matchers"][matcher]["meaning"]
    return [(float(f), m["tar_view2_genuine"]) for f, m in meaning.items()]


def test_gallery_page_lists_travellers_report_and_alias_alerts(app, client, tokens, gallery,
                                                               photos):
    alert = alias_item(client, tokens, gallery, photos)
    enrol(client, tokens["officer"], gallery, "T-OPT", opt_out=True, surname="Optout")
    page_session(client, app, tokens["officer"])
    listing = client.get("/review/galleries")
    assert f'data-gallery="{gallery}"' in listing.text and "in use" in listing.text
    page = client.get(f"/review/galleries/{gallery}")
    assert page.status_code == 200
    assert re.findall(r'data-traveler="([^"]+)"', page.text) == ["T-A1", "T-A2", "T-OPT"]
    alias_row = page.text.split(f'data-alert="{alert}"')[1].split("</tr>")[0]
    assert "Pat First" in alias_row and "Pat Second" in alias_row
    assert f'href="/review/items/{alert}"' in alias_row
    report = page.text.split('id="report"')[1].split("</section>")[0]
    assert "3 (0 citizens, 1 opted out)" in report
    assert "Flight BM123 departure" in page.text and "Valid until" in page.text
    window = page.text.split('id="window"')[1].split("</section>")[0]
    assert "gate-3" in window  # the lanes that serve it
    entries = [e for e in _audit(client, tokens, "gallery.read") if e["resource_id"] == gallery]
    assert entries[-1]["detail"]["travelers"] == ["T-A1", "T-A2", "T-OPT"]
    assert client.get(f"/review/galleries/{gallery}", params={"page": 2}).status_code == 404
    assert client.get("/review/galleries/nope").status_code == 404


@pytest.mark.parametrize("path", ["/review/monitor?lane=" + "x" * 65,
                                  "/review/galleries/g?page=0"])
def test_bad_query_values_are_refused(app, client, tokens, path):
    page_session(client, app, tokens["officer"])
    assert client.get(path).status_code == 422


def test_a_vehicle_shows_every_occupant_with_seat_and_row(app, client, tokens, gallery, photos,
                                                          clock):
    from tests.web.ops_helpers import post_vehicle

    enrol(client, tokens["officer"], gallery, "T-OBAMA", photos["obama"], surname="Obama")
    car = post_vehicle(client, tokens, gallery, photos, ("obama2", "biden2"), "veh-1")
    page_session(client, app, tokens["officer"])
    page = client.get("/review/monitor", params={"lane": "lane-3"})
    assert _cards(page.text) == [car["id"]]
    occupants = re.findall(r'data-decision="([^"]+)"', page.text)
    assert sorted(occupants) == ["match", "no_match"]
    # A windshield camera with no seat layout cannot place them: the page says so.
    for seat in (o["seat"] or "seat ?" for o in car["occupants"]):
        assert seat in page.text
    # Each occupant's best face is kept (service/vehicle.py) and shown, audited on fetch.
    thumbs = re.findall(r'src="(/review/monitor/occupants/[^"]+/photo)"', page.text)
    assert len(thumbs) == 2
    for url in thumbs:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    rows = _csv(client.get("/review/reports/rates.csv", params={"by": "row"}))
    by_row = {r[0]: r for r in rows[1:]}
    expected = {str(o["row"]) if o["row"] is not None else "none" for o in car["occupants"]}
    assert set(by_row) == expected
    assert sum(int(r[2]) for r in by_row.values()) == 2
