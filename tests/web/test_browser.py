"""The review pages in a real headless Chromium (Playwright) against a real uvicorn server.

Debian's ``chromium`` is used as installed (never ``playwright install``); the test skips with
a message when it or Playwright is missing. Set ``BM_SCREENSHOT_DIR`` to keep a screenshot of
the item page for a human to look at (screenshots are never committed).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from tests.api.api_helpers import DEVICE_LANES, auth
from tests.web.web_helpers import alias_item, manual_inspection_item

CHROMIUM = os.environ.get("BM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(app):
    """The app served by a real uvicorn on a free loopback port, in a thread."""
    import uvicorn

    port = _free_port()
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
        from datetime import timedelta

        now = clock.now()  # the app runs on the test's controlled clock
        g = api.post("/v1/galleries", headers=auth(tokens["admin"]), json={
            "name": "Crossing 12 northbound", "kind": "crossing",
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(), "lanes": list(DEVICE_LANES)})
        assert g.status_code == 201, g.text
        gallery = g.json()["id"]
        alias = alias_item(api, tokens, gallery, photos)
        manual = manual_inspection_item(api, tokens, gallery)

        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        assert _sign_in(page, live_server, tokens["officer"]).status == 303
        cookie = next(c for c in context.cookies() if c["name"] == "bm_review_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.locator(f'tr[data-item="{alias}"]').count() == 1
        assert page.locator(f'tr[data-item="{manual}"]').count() == 1
        _screenshot(page, "review_queue.png")

        page.click(f'tr[data-item="{alias}"] a.button')
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == "Alias alert"
        # Both enrolment photos load (under the CSP) and decode in the browser.
        widths = page.eval_on_selector_all(".person img", "els => els.map(e => e.naturalWidth)")
        assert len(widths) == 2 and all(w > 0 for w in widths), widths
        page.fill("#reason", "same person holds two passports")
        assert page.locator('[data-counter-for="reason"]').inner_text() == "31"  # JS ran
        _screenshot(page, "review_item.png")
        page.click("button[value=reject]")
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
        refused = _sign_in(page, live_server, tokens["auditor"])
        assert refused.status == 403 and "Not allowed" in page.content()
        assert not [c for c in wrong.cookies() if c["name"] == "bm_review_session"]
        assert page.goto(f"{live_server}/review/items/{manual}").url.endswith("/review/login")
        wrong.close()
