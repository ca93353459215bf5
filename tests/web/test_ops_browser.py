"""The lane monitor, reports and gallery pages in headless Debian Chromium (Playwright)
against a real uvicorn server: thumbnails load under the CSP, the monitor inserts a vehicle
posted while it is open (fetching only the new thumbnail), purged photos read "purged",
the DET loads, the CSV downloads, and an auditor sees the reports only.

Set ``BM_SCREENSHOT_DIR`` to keep one small screenshot per page (docs/screenshots/ holds the
committed ones, made this way).
"""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta
from pathlib import Path

from tests.api.api_helpers import DEVICE_LANES, auth
from tests.web.ops_helpers import gate_photo, seed_gate_lane
from tests.web.test_browser import _sign_in, browser, live_server  # noqa: F401  (fixtures)
from tests.web.web_helpers import alias_item, manual_inspection_item

VIEWPORT = {"width": 1280, "height": 860}


def _screenshot(page, name: str, full_page: bool = False) -> None:
    """A palette PNG, small enough to commit and sharp enough to read."""
    out = os.environ.get("BM_SCREENSHOT_DIR")
    if not out:
        return
    from PIL import Image

    raw = Image.open(io.BytesIO(page.screenshot(full_page=full_page)))
    if raw.height > 1600:  # a long page still reads at 70 %
        raw = raw.resize((int(raw.width * 0.7), int(raw.height * 0.7)), Image.LANCZOS)
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
        path, optimize=True)


def _no_broken_images(page) -> None:
    # A photo still loading has no width yet; a broken one is complete with none.
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)",
                           timeout=15_000)
    widths = page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.naturalWidth])")
    assert widths and all(w > 0 for _, w in widths), widths


def _audited(api, tokens, action: str) -> int:
    r = api.get("/v1/audit", headers=auth(tokens["auditor"]), params={"action": action})
    assert r.status_code == 200, r.text
    return len(r.json())


def test_operations_pages_in_a_real_browser(live_server, browser, tokens, photos, clock, app):  # noqa: F811
    import httpx

    with httpx.Client(base_url=live_server, timeout=60) as api:
        now = clock.now()
        g = api.post("/v1/galleries", headers=auth(tokens["admin"]), json={
            "name": "Crossing 12 northbound", "kind": "crossing",
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=30)).isoformat(), "lanes": list(DEVICE_LANES)})
        assert g.status_code == 201, g.text
        gallery = g.json()["id"]
        alias_item(api, tokens, gallery, photos)
        # Biden is enrolled and matched; Obama, enrolled twice (the alias alert), goes to review.
        seed_gate_lane(api, tokens, gallery, photos, clock, "biden", "biden2", "obama2")
        clock.advance(seconds=5)
        manual_inspection_item(api, tokens, gallery)

        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        assert _sign_in(page, live_server, tokens["officer"]).status == 303

        # -- the monitor, and a vehicle arriving while it is open -----------------------------
        page.click("nav.opsnav >> text=Lane monitor")  # from the review queue's header
        page.click('tr[data-lane="gate-3"] a.button')
        page.wait_for_load_state("networkidle")
        assert page.locator("article.vehicle").count() == 4
        # The alias review, the no-capture and the opt-out stand out.
        assert page.locator("article.vehicle.attention").count() == 3
        assert page.locator('.occupant[data-decision="review"]').count() == 1
        assert page.locator('[data-photo="no_capture"]').count() == 1
        assert page.locator('[data-photo="opted_out"]').count() == 1
        _no_broken_images(page)
        _screenshot(page, "lane_monitor.png")
        photos_before = _audited(api, tokens, "monitor.photo")
        assert photos_before == 2

        clock.advance(seconds=5)
        new = gate_photo(api, tokens, gallery, photos["biden2"])["id"]
        page.wait_for_selector(f'article[data-encounter="{new}"]', timeout=15_000)
        assert page.locator("article.vehicle").first.get_attribute("data-encounter") == new
        assert page.locator("article.vehicle").count() == 5
        page.wait_for_load_state("networkidle")
        _no_broken_images(page)
        assert "5 encounters" in page.locator("#monitor-status").inner_text()
        # Only the new vehicle's thumbnail was fetched: the others stayed in place.
        assert _audited(api, tokens, "monitor.photo") == photos_before + 1

        # -- reports: tables, the DET, a CSV download ----------------------------------------
        page.click("nav.opsnav >> text=Reports")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == "Reports"
        gate = page.locator('#rates-lane tr[data-key="gate-3"] td')
        assert gate.nth(1).inner_text() == "5" and gate.nth(8).inner_text() == "50.0 %"
        assert page.eval_on_selector("img.det", "e => e.naturalWidth") > 300
        assert page.locator('#outcomes tr[data-reason="opted_out"]').count() == 1
        _screenshot(page, "reports.png", full_page=True)
        with page.expect_download() as download:
            page.click("#rates-day a.csv")
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert rows[0][0] == "day" and rows[1][:3] == [now.date().isoformat(), "5", "5"]

        # -- the gallery page ----------------------------------------------------------------
        page.click("nav.opsnav >> text=Galleries")
        page.click(f'tr[data-gallery="{gallery}"] a.button')
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == "Crossing 12 northbound"
        assert page.locator("#travelers tr[data-traveler]").count() == 4
        assert page.locator("#aliases tr[data-alert]").count() == 1
        _screenshot(page, "gallery.png")

        # -- purged photos read "purged", never a broken image -------------------------------
        clock.advance(days=15)
        app.state.service.purge()
        page.goto(f"{live_server}/review/login")  # 15 days outlive any page session
        page.fill("#api_key", tokens["officer"])
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{live_server}/review/monitor?lane=gate-3")
        page.wait_for_load_state("networkidle")
        assert page.locator('[data-photo="purged"]').count() == 3
        assert page.locator("#monitor img").count() == 0
        assert not problems, problems  # no CSP violations or script errors
        context.close()

        # -- an auditor: the reports, nothing with a face or a name ---------------------------
        auditor = browser.new_context(viewport=VIEWPORT)
        page = auditor.new_page()
        page.goto(f"{live_server}/review/login")
        page.fill("#api_key", tokens["auditor"])
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert page.url.endswith("/review/reports")  # an auditor lands on the reports
        assert page.locator("h1").inner_text() == "Reports"
        assert [a.inner_text() for a in page.locator("nav.opsnav a").all()] == ["Reports"]
        response = page.goto(f"{live_server}/review/monitor?lane=gate-3")
        assert response is not None and response.status == 403
        assert "may not see this page" in page.content()
        auditor.close()
