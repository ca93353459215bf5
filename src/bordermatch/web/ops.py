"""The operations pages beside the review pages: lane monitor, reports, galleries.

They share the review pages' sign-in, session cookie (path ``/review``), templates and
static files; ``create_app`` installs them after ``pages.install``.
"""

from __future__ import annotations

from fastapi import FastAPI

from bordermatch.web import access, gallery_page, monitor, reports


def install(app: FastAPI) -> None:
    # Every page's header lists the pages the signed-in role may open (page_nav.html).
    app.state.web_templates.env.globals["page_nav"] = access.NAV
    for module in (monitor, reports, gallery_page):
        app.include_router(module.router)
