"""The review pages in a real headless Chromium (Playwright) against a real uvicorn server.

Debian's ``chromium`` is used as installed (never ``playwright install``); the test skips with
a message when it or Playwright is missing. Set ``BM_SCREENSHOT_DIR`` to keep screenshots of
the pages (``scripts/screenshots.py`` does, for docs/screenshots/).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from tests.api.api_helpers import DEVICE_LANES, auth
from tests.api.serve_helpers import free_port
from tests.api.test_api_vehicle import EVENT, _frame, _submit
from tests.web.web_helpers import alias_item, enrol, gate, item_for, manual_inspection_item

CHROMIUM = os.environ.get("BM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


@pytest.fixture
def live_server(app):
    """The app served by a real uvicorn on a free loopback port, in a thread."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set BM_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _screenshot(page, name: str) -> None:
    if os.environ.get("BM_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["BM_SCREENSHOT_DIR"]) / name), full_page=True)


def _watch(page) -> list[str]:
    """Console errors and page errors (a CSP violation is one) collected while it runs."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def _images_decode(page) -> None:
    """Every image on the page loaded and decoded (none is a broken image)."""
    page.wait_for_load_state("networkidle")
    widths = page.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth)")
    assert widths and all(w and w > 0 for w in widths), widths


def _crossing_gallery(api, tokens, clock) -> str:
    from datetime import timedelta

    now = clock.now()  # the app runs on the test's controlled clock
    g = api.post("/v1/galleries", headers=auth(tokens["admin"]), json={
        "name": "Crossing 12 northbound", "kind": "crossing",
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(), "lanes": list(DEVICE_LANES)})
    assert g.status_code == 201, g.text
    return g.json()["id"]


def _sign_in(page, base: str, token: str):
    page.goto(f"{base}/review")
    assert page.url.endswith("/review/login")
    page.fill("#api_key", token)
    with page.expect_response(lambda r: r.url.endswith("/review/login")
                              and r.request.method == "POST") as posted:
        page.click("button[type=submit]")
    page.wait_for_load_state()
    return posted.value


def test_officer_reviews_in_a_real_browser(live_server, browser, tokens, photos, clock):
    import httpx

    with httpx.Client(base_url=live_server, timeout=60) as api:
        gallery = _crossing_gallery(api, tokens, clock)
        alias = alias_item(api, tokens, gallery, photos)
        manual = manual_inspection_item(api, tokens, gallery)

        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems = _watch(page)
        page.goto(f"{live_server}/review/login")
        _screenshot(page, "login.png")
        assert _sign_in(page, live_server, tokens["officer"]).status == 303
        cookie = next(c for c in context.cookies() if c["name"] == "bm_review_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.locator(f'tr[data-item="{alias}"]').count() == 1
        assert page.locator(f'tr[data-item="{manual}"]').count() == 1

        page.click(f'tr[data-item="{alias}"] a.button')
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text().startswith("Alias alert")
        # Both enrolment photos load (under the CSP) and decode in the browser: the new one
        # beside the other identity's reference, and on its own under its identity.
        _images_decode(page)
        assert page.locator(".pair img").count() == 3
        page.fill("#reason", "same person holds two passports")
        assert page.locator('[data-counter-for="reason"]').inner_text() == "31"  # JS ran
        page.click("button[name=decision][value=reject]")
        page.wait_for_url(f"**/review?done={alias}")
        assert page.locator(f'tr[data-item="{alias}"]').count() == 0
        assert page.locator(f'tr[data-item="{manual}"]').count() == 1
        assert not problems, problems  # no CSP violations or script errors

        entries = api.get("/v1/audit", headers=auth(tokens["auditor"]),
                          params={"action": "review.adjudicate", "resource_id": alias}).json()
        assert [(e["detail"]["decision"], e["detail"]["reason"]) for e in entries] == [
            ("rejected", "same person holds two passports")]
        assert entries[0]["actor"].startswith("test officer")
        context.close()

        wrong = browser.new_context()
        page = wrong.new_page()
        refused = _sign_in(page, live_server, tokens["admin"])
        assert refused.status == 403 and "Not allowed" in page.content()
        assert not [c for c in wrong.cookies() if c["name"] == "bm_review_session"]
        assert page.goto(f"{live_server}/review/items/{manual}").url.endswith("/review/login")
        wrong.close()


def test_two_keystrokes_decide_gate_and_vehicle_items(live_server, browser, tokens, photos,
                                                      clock):
    """After the page loads, "a" then "1" accepts and "r" then "2" rejects, each with the
    standard reason those keys name: two key presses, no mouse, no typing."""
    import httpx

    with httpx.Client(base_url=live_server, timeout=120) as api:
        gallery = _crossing_gallery(api, tokens, clock)
        for tid, name in (("T-OBAMA", "obama"), ("T-BIDEN", "biden"), ("T-OBAMA-2", "obama")):
            enrol(api, tokens["officer"], gallery, tid, photos[name], surname=tid[2:].title())
        at_gate = item_for(api, tokens, gate(api, tokens, gallery, photos["obama2"])["id"])
        frames = [(f"ws/{k:04d}_{k * 100}.jpg", _frame(photos, 10 * k)) for k in range(2)]
        r = _submit(api, tokens, gallery, EVENT | {"event_id": "veh-keys"}, frames)
        in_car = item_for(api, tokens, r.json()["id"])

        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems = _watch(page)
        _sign_in(page, live_server, tokens["officer"])
        assert page.locator(f'tr[data-item="{at_gate}"]').count() == 1
        _screenshot(page, "review_queue.png")

        page.goto(f"{live_server}/review/items/{at_gate}")
        _images_decode(page)
        assert page.locator("[data-reason]").get_attribute("data-reason") == "alias"
        assert page.locator(".identity").count() == 2  # the partner identity is shown
        _screenshot(page, "review_item_gate.png")
        # Keys typed into the reason box are text, not shortcuts.
        page.focus("#reason")
        page.keyboard.press("a")
        page.keyboard.press("1")
        assert page.url.endswith(f"/review/items/{at_gate}")
        assert page.input_value("#reason") == "a1"
        page.fill("#reason", "")
        page.locator("h1").click()  # leave the box: the shortcuts apply again
        page.keyboard.press("a")
        page.keyboard.press("1")
        page.wait_for_url(f"**/review?done={at_gate}")

        page.goto(f"{live_server}/review/items/{in_car}")
        _images_decode(page)
        assert page.locator('[data-fact="lane"]').inner_text() == "lane-3 (entry)"
        assert page.locator("tr[data-occupant]").count() == 2
        _screenshot(page, "review_item_vehicle.png")
        page.keyboard.press("r")
        page.keyboard.press("2")
        page.wait_for_url(f"**/review?done={in_car}")
        assert not problems, problems

        decided = {}
        for item in (at_gate, in_car):
            (e,) = api.get("/v1/audit", headers=auth(tokens["auditor"]),
                           params={"action": "review.adjudicate", "resource_id": item}).json()
            decided[item] = (e["detail"]["decision"], e["detail"]["reason"])
        assert decided == {at_gate: ("accepted", "Same person as the reference photo"),
                           in_car: ("rejected",
                                    "Capture unusable: sent to secondary inspection")}
        crossings = api.get("/v1/travelers/T-OBAMA/crossings",
                            headers=auth(tokens["officer"])).json()
        assert [c["method"] for c in crossings] == ["officer_review"]
        context.close()
