"""The reports page under ``/review/reports``: capture and validation rates by lane, seat row
and day from the stored records, review outcomes, the DET curve of the configured matcher
with the service's operating points, and CSV exports of the tables.

Officers, supervisors and auditors may read it: the tables count decisions and name nobody.
Each read is audited (``report.rates``, ``report.review_outcomes``).
"""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from bordermatch.service import ops
from bordermatch.store import reports
from bordermatch.web import access, pages

router = APIRouter(prefix=f"{pages.PREFIX}/reports", include_in_schema=False)
Days = Annotated[int, Query(ge=1, le=ops.MAX_REPORT_DAYS)]
RATE_HEADERS = ("vehicles", "occupants", "opted out", "captured", "matched", "review",
                "capture rate", "validation rate")
GROUP_LABELS = {"lane": "Lane", "row": "Seat row", "day": "Day (UTC)"}
GROUP_TITLES = {"lane": "lane", "row": "seat row", "day": "day (UTC)"}
OUTCOME_HEADERS = ("kind", "reason", "pending", "accepted", "rejected", "total")
# A cell a spreadsheet would run as a formula (lane names come from devices).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@router.get("")
def reports_page(request: Request, days: Days = 30) -> Response:
    state = access.signed_in(request, access.REPORT_ROLES)
    if isinstance(state, Response):
        return state
    who, session = state
    svc = request.app.state.service
    data = ops.report(svc, who, days)
    th = svc.thresholds
    return access.render(request, "reports.html", who, session, report=data, days=days,
                         tables={g: reports.rate_table(rows) for g, rows in data.rates.items()},
                         group_labels=GROUP_LABELS, group_titles=GROUP_TITLES,
                         rate_headers=RATE_HEADERS,
                         marks=ops.det_marks(svc), search=th.search,
                         matcher=svc.settings.matcher)


@router.get("/det.png")
def det_png(request: Request) -> Response:
    state = access.signed_in(request, access.REPORT_ROLES)
    if isinstance(state, Response):
        return state
    data = ops.det_png(request.app.state.service)
    return Response(data, media_type="image/png", headers=pages.SECURITY_HEADERS)


@router.get("/rates.csv")
def rates_csv(request: Request, by: Annotated[str, Query(max_length=8)] = "lane",
              days: Days = 30) -> Response:
    state = access.signed_in(request, access.REPORT_ROLES)
    if isinstance(state, Response):
        return state
    if by not in reports.GROUPINGS:
        return pages._error(request, 404, "Not found",
                            f"Rates are grouped by {', '.join(reports.GROUPINGS)}.", *state)
    rows = ops.rates(request.app.state.service, state[0], by, days)
    header = (by, *(h.replace(" ", "_") for h in RATE_HEADERS))
    return _csv(f"rates_by_{by}_{days}d.csv", header, reports.rate_table(rows))


@router.get("/outcomes.csv")
def outcomes_csv(request: Request, days: Days = 30) -> Response:
    state = access.signed_in(request, access.REPORT_ROLES)
    if isinstance(state, Response):
        return state
    rows = [[o.kind, o.reason, o.pending, o.accepted, o.rejected, o.total]
            for o in ops.outcomes(request.app.state.service, state[0], days)]
    return _csv(f"review_outcomes_{days}d.csv", OUTCOME_HEADERS, rows)


def _csv(filename: str, header: tuple[str, ...], rows: list[list[object]]) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[_cell(c) for c in row] for row in rows])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={**pages.SECURITY_HEADERS,
                             "Content-Disposition": f'attachment; filename="{filename}"'})


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
