"""Officer review pages under ``/review``: sign in, the queue (one item: ``item.py``).

Server-rendered (Jinja2, a little vanilla JS and CSS from ``/review/static``; no CDN, no build
step). Pages call the same ``store.repo`` functions as ``/v1/review``, so reads and decisions
are audited exactly as through the API, and the deciding officer is the name on the key.

Authentication uses the API keys and roles of the API: a key is exchanged once for a session
cookie (``sessions.py``); only ``officer`` and ``supervisor`` keys may sign in. Every POST
carries a CSRF token (a double-submit cookie before sign-in, the session's token after it)
and is refused when its ``Origin`` is another site.
"""

from __future__ import annotations

import logging
import secrets
from importlib import resources
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response

from bordermatch.service.review import reason_of
from bordermatch.store import audit, authlimit, keys
from bordermatch.store.keys import Principal
from bordermatch.web import reasons
from bordermatch.web.sessions import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    SessionStore,
    WebSession,
    same_token,
)

log = logging.getLogger(__name__)

PREFIX = "/review"
REVIEW_ROLES = ("officer", "supervisor")  # the roles /v1/review lets adjudicate
# Who may sign in at all: an auditor sees the aggregate reports only (web/access.py).
SIGN_IN_ROLES = ("officer", "supervisor", "auditor")
KIND_LABELS = {
    "alias": "Alias alert",
    "encounter": "Match needs review",
    "manual_inspection": "Manual inspection",
    "unmatched_document": "Document read, no face matched",
    # Raised by the document and fingerprint workflows (issues 10 and 11).
    "tampered_chip": "Document chip failed authentication",
    "fingerprint_hit": "Fingerprint watchlist hit",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; "
                               "img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on an app built by ``create_app``."""
    from fastapi.staticfiles import StaticFiles
    from fastapi.templating import Jinja2Templates

    web = resources.files("bordermatch.web")
    service = app.state.service
    app.state.web_sessions = SessionStore(service.sessions, service.clock)
    app.state.web_templates = Jinja2Templates(directory=str(web.joinpath("templates")))
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(web.joinpath("static"))),
              name="review-static")
    from bordermatch.web import item

    app.include_router(router)
    app.include_router(item.router)  # one review item: its page, photos and decision


# -- helpers ----------------------------------------------------------------------------------
def _render(request: Request, name: str, status: int = 200, **context) -> Response:
    templates = request.app.state.web_templates
    response = templates.TemplateResponse(request, name, {"prefix": PREFIX, **context},
                                          status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _error(request: Request, status: int, title: str, detail: str,
           who: Principal | None = None, session: WebSession | None = None) -> Response:
    return _render(request, "error.html", status, title=title, detail=detail, who=who,
                   session=session)


def _redirect(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _same_origin(request: Request) -> bool:
    """False when the browser says the form came from another origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:  # modern browsers say it outright
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        # Older clients send neither: SameSite=Strict and the CSRF token still protect us.
        return True
    # "null" comes from sandboxed frames and data: URLs, the usual CSRF launch pads.
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host", "")


def _signed_in(request: Request) -> tuple[Principal, WebSession] | Response:
    """The officer behind the session cookie, or the response to send instead."""
    store: SessionStore = request.app.state.web_sessions
    # None also when the key was revoked since sign-in: the store drops that session.
    state = store.get(request.cookies.get(COOKIE))
    if state is None:
        return _redirect(f"{PREFIX}/login")
    who, session = state
    if who.role not in REVIEW_ROLES:
        if who.role in SIGN_IN_ROLES:  # an auditor: the pages that role may see
            return _redirect(f"{PREFIX}/reports")
        return _error(request, 403, "Not allowed", "Your role may not review items.")
    return who, session


def _checked_post(request: Request, csrf: str) -> tuple[Principal, WebSession] | Response:
    if not _same_origin(request):
        return _error(request, 403, "Refused", "This form was sent from another site.")
    state = _signed_in(request)
    if isinstance(state, Response):
        return state
    if not same_token(state[1].csrf, csrf):
        return _error(request, 403, "Form expired",
                      "The form is out of date. Go back, reload the page and try again.",
                      *state)
    return state


# -- sign in and out ----------------------------------------------------------------------------
def _login_page(request: Request, status: int = 200, message: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = _render(request, "login.html", status, csrf=token, message=message)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=_secure(request), path=PREFIX, max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    if request.app.state.web_sessions.get(request.cookies.get(COOKIE)) is not None:
        return _redirect(PREFIX)
    return _login_page(request)


@router.post("/login")
def login(request: Request, api_key: Annotated[str, Form(max_length=300)] = "",
          csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    if not _same_origin(request) or not same_token(request.cookies.get(LOGIN_CSRF_COOKIE),
                                                   csrf):
        return _login_page(request, 403, "The sign-in form expired. Please try again.")
    svc = request.app.state.service
    now = svc.clock.now()
    source = request.client.host if request.client else "unknown"
    token = api_key.strip()
    with svc.sessions() as s:
        locked = authlimit.locked_until(s, now, source)
        who = None if locked else keys.authenticate(s, token)
    if who is None and not locked:
        locked = authlimit.record_failure(
            svc.sessions, now, source, authlimit.Policy.from_settings(svc.settings),
            authlimit.claimed_key_id(token), "review_sign_in", f"{PREFIX}/login")
        if not locked:
            return _login_page(request, 401, "That key is not valid.")
    if locked:
        response = _login_page(request, 429, "Too many failed sign-ins from this address. "
                                             "Try again later.")
        response.headers["Retry-After"] = str(max(1, int((locked - now).total_seconds())))
        return response
    assert who is not None  # a failed sign-in either returned 401 or locked (429) above
    if who.role not in SIGN_IN_ROLES:
        log.info("review pages: sign-in refused for role %s (key %s)", who.role, who.key_id)
        authlimit.audit_refusal(svc.sessions, now, who, "review.sign_in_refused",
                                f"{PREFIX}/login", source)
        return _error(request, 403, "Not allowed",
                      "Only officers, supervisors and auditors may use these pages.")
    sid, _ = request.app.state.web_sessions.create(who)
    with svc.sessions.begin() as s:
        audit.append(s, svc.clock.now(), who, "review.sign_in", "review", None)
    response = _redirect(PREFIX if who.role in REVIEW_ROLES else f"{PREFIX}/reports")
    response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", secure=_secure(request),
                        path=PREFIX)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    # Any role that may sign in may sign out (an auditor too): not through _signed_in, which
    # sends roles other than the reviewers' to their own pages.
    if not _same_origin(request):
        return _error(request, 403, "Refused", "This form was sent from another site.")
    store: SessionStore = request.app.state.web_sessions
    state = store.get(request.cookies.get(COOKIE))
    if state is None:
        return _redirect(f"{PREFIX}/login")
    if not same_token(state[1].csrf, csrf):
        return _error(request, 403, "Form expired",
                      "The form is out of date. Go back, reload the page and try again.",
                      *state)
    store.drop(request.cookies.get(COOKIE))
    response = _redirect(f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# -- the queue ----------------------------------------------------------------------------------
@router.get("")
def queue(request: Request, kind: str | None = None, done: str | None = None) -> Response:
    state = _signed_in(request)
    if isinstance(state, Response):
        return state
    who, session = state
    if kind not in (None, "", *KIND_LABELS):
        return _error(request, 404, "Not found", "There is no such queue.", who, session)
    svc = request.app.state.service
    items = svc.review_queue(who, "open", kind or None, 200)
    why = {it.id: reasons.TITLES.get(code, code)
           for it in items if (code := reason_of(it.kind, it.basis))}
    return _render(request, "queue.html", who=who, session=session, items=items,
                   kind=kind or None, kinds=KIND_LABELS, done=done, why=why)
