"""Who may see which operations page, and the signed-in check they share.

The pages reuse the review pages' sign-in, session cookie and rendering (``pages.py``); the
only difference is the roles each page lets in. Device and partner keys never reach a page.
The role model is the API's (docs/service.md, "Threat model"): officers and supervisors see
faces and names; an auditor sees the aggregate reports (no face, no name), as it sees the
audit log.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from bordermatch.store.keys import Principal
from bordermatch.web import pages
from bordermatch.web.sessions import COOKIE, WebSession

PAGE_ROLES = pages.SIGN_IN_ROLES  # nobody else ever reaches a page
MONITOR_ROLES = ("officer", "supervisor")
GALLERY_ROLES = ("officer", "supervisor")
REPORT_ROLES = ("officer", "supervisor", "auditor")
assert set(MONITOR_ROLES + GALLERY_ROLES + REPORT_ROLES) <= set(PAGE_ROLES)


def signed_in(request: Request, roles: tuple[str, ...]
              ) -> tuple[Principal, WebSession] | Response:
    """The person behind the session cookie when their role is in ``roles``, else the
    response to send (the sign-in page, or 403)."""
    # None also when the key was revoked since sign-in: the store drops that session.
    state = request.app.state.web_sessions.get(request.cookies.get(COOKIE))
    if state is None:
        return pages._redirect(f"{pages.PREFIX}/login")
    who, session = state
    if who.role not in roles or who.role not in PAGE_ROLES:
        return pages._error(request, 403, "Not allowed",
                            f"The {who.role} role may not see this page.", who, session)
    return who, session


def render(request: Request, name: str, who: Principal, session: WebSession,
           status: int = 200, **context) -> Response:
    """A page of the operations templates (the header lists the pages the role may use)."""
    return pages._render(request, name, status, who=who, session=session, **context)


NAV = (("Review queue", pages.PREFIX, pages.REVIEW_ROLES),
       ("Lane monitor", f"{pages.PREFIX}/monitor", MONITOR_ROLES),
       ("Reports", f"{pages.PREFIX}/reports", REPORT_ROLES),
       ("Galleries", f"{pages.PREFIX}/galleries", GALLERY_ROLES))
