"""The lane monitor under ``/review/monitor``: the latest vehicles of a lane, each occupant a
thumbnail of the best shot with its decision, score and quality.

The page is server-rendered; ``static/monitor.js`` polls ``head.json`` (the lane's newest
encounter id, no personal data) every two seconds and, when it changes, fetches the cards
fragment and inserts only the new vehicles, so a thumbnail already shown is not fetched
(nor audited) again. Listing a lane (``monitor.read``) and every thumbnail
(``monitor.photo``) are audited accesses. A photo the retention purge removed shows as
"purged", never as a broken image.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from bordermatch.errors import UnknownRecordError
from bordermatch.service import ops
from bordermatch.web import access, item, pages

router = APIRouter(prefix=f"{pages.PREFIX}/monitor", include_in_schema=False)
LaneQuery = Annotated[str | None, Query(max_length=64)]
VEHICLES_SHOWN = 12
POLL_MS = 2000
DECISION_LABELS = {"match": "Match", "no_match": "No match", "review": "Review",
                   "no_capture": "No capture", "manual_inspection": "Manual inspection"}
PHOTO_LABELS = {"purged": "purged", "no_capture": "no capture", "opted_out": "opted out",
                "not_retained": "not retained", "missing": "purged"}
POLL_CSP = pages.SECURITY_HEADERS["Content-Security-Policy"] + "; connect-src 'self'"
# What a thumbnail becomes when its photo is gone by the time the browser asks for it.
_PLACEHOLDER = ('<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" '
                'viewBox="0 0 96 96"><rect width="96" height="96" fill="#e9eef2"/>'
                '<text x="48" y="53" font-family="sans-serif" font-size="14" '
                'text-anchor="middle" fill="#57616c">{label}</text></svg>')


@router.get("")
def monitor_page(request: Request, lane: LaneQuery = None) -> Response:
    state = access.signed_in(request, access.MONITOR_ROLES)
    if isinstance(state, Response):
        return state
    who, session = state
    svc = request.app.state.service
    lanes = ops.lanes(svc)
    if not lane:
        return access.render(request, "monitor_lanes.html", who, session, lanes=lanes)
    vehicles = ops.monitor(svc, who, lane, VEHICLES_SHOWN)
    newest, count = ops.lane_head(svc, lane)
    response = access.render(request, "monitor.html", who, session, lane=lane, lanes=lanes,
                             vehicles=vehicles, newest=newest or "", count=count,
                             poll_ms=POLL_MS, search=svc.thresholds.search, **_labels())
    # The review pages' policy plus fetch() to this origin, which the poll needs.
    response.headers["Content-Security-Policy"] = POLL_CSP
    return response


@router.get("/cards")
def cards(request: Request, lane: LaneQuery = None) -> Response:
    """The vehicle cards alone, for the page's script to insert the new ones."""
    state = access.signed_in(request, access.MONITOR_ROLES)
    if isinstance(state, Response):
        return state
    who, session = state
    if not lane:
        return pages._error(request, 404, "Not found", "Name a lane.", who, session)
    vehicles = ops.monitor(request.app.state.service, who, lane, VEHICLES_SHOWN)
    return access.render(request, "monitor_cards.html", who, session, lane=lane,
                         vehicles=vehicles, **_labels())


@router.get("/head.json")
def head(request: Request, lane: LaneQuery = None) -> Response:
    state = access.signed_in(request, access.MONITOR_ROLES)
    if isinstance(state, Response):
        # A script cannot follow a sign-in page: tell it plainly.
        code = 403 if state.status_code == 403 else 401
        return JSONResponse({"error": "forbidden" if code == 403 else "signed_out"}, code,
                            headers=pages.SECURITY_HEADERS)
    if not lane:
        return JSONResponse({"error": "no_lane"}, 422, headers=pages.SECURITY_HEADERS)
    newest, count = ops.lane_head(request.app.state.service, lane)
    return JSONResponse({"lane": lane, "newest": newest, "count": count},
                        headers=pages.SECURITY_HEADERS)


@router.get("/occupants/{occupant_id}/photo")
def photo(request: Request, occupant_id: str) -> Response:
    state = access.signed_in(request, access.MONITOR_ROLES)
    if isinstance(state, Response):
        return state
    try:
        photo_state, data = ops.occupant_photo(request.app.state.service, state[0],
                                               occupant_id[:64])
    except UnknownRecordError:
        return pages._error(request, 404, "Not found", "There is no such occupant.", *state)
    if data is None:
        svg = _PLACEHOLDER.format(label=PHOTO_LABELS.get(photo_state, "unavailable"))
        return Response(svg, media_type="image/svg+xml",
                        headers={**pages.SECURITY_HEADERS, "X-Photo-State": photo_state})
    return Response(data, media_type=item.image_type(data),
                    headers={**pages.SECURITY_HEADERS, "X-Photo-State": photo_state})


def _labels() -> dict[str, Any]:
    return {"decision_labels": DECISION_LABELS, "photo_labels": PHOTO_LABELS}
