"""The gallery pages under ``/review/galleries``: every gallery with its validity window,
and one gallery's travellers (paged), enrolment report and open alias alerts.

For officers and supervisors (names and document numbers are personal data); listing a
page of travellers is an audited access (``gallery.read``). No face is shown here: the
alias alerts link to their review items, whose photo views are audited there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from bordermatch.errors import UnknownRecordError
from bordermatch.service import ops
from bordermatch.store import gallery_view
from bordermatch.web import access, pages

router = APIRouter(prefix=f"{pages.PREFIX}/galleries", include_in_schema=False)
Page = Annotated[int, Query(ge=1, le=1_000_000)]


@router.get("")
def galleries(request: Request) -> Response:
    state = access.signed_in(request, access.GALLERY_ROLES)
    if isinstance(state, Response):
        return state
    svc = request.app.state.service
    rows = sorted(svc.list_galleries(), key=lambda gn: gn[0].valid_from, reverse=True)
    return access.render(request, "galleries.html", *state, galleries=rows,
                         now=svc.clock.now())


@router.get("/{gallery_id}")
def gallery(request: Request, gallery_id: str, page: Page = 1) -> Response:
    state = access.signed_in(request, access.GALLERY_ROLES)
    if isinstance(state, Response):
        return state
    svc = request.app.state.service
    try:
        view = ops.gallery(svc, state[0], gallery_id[:64], page)
    except UnknownRecordError:
        return pages._error(request, 404, "Not found", "There is no such gallery.", *state)
    if page > view.travelers.pages:
        return pages._error(request, 404, "Not found",
                            f"This gallery has {view.travelers.pages} page(s) of travellers.",
                            *state)
    return access.render(request, "gallery.html", *state, view=view, g=view.gallery,
                         now=svc.clock.now(), low_quality=gallery_view.LOW_QUALITY)
