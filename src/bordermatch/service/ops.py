"""The operations pages' reads: the lane monitor, reports and the gallery page.

Each is one transaction with its audit entry (queries in ``store.reports`` and
``store.gallery_view``); photos come decrypted from the blob store. Nothing here writes
a record other than the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from bordermatch.errors import BlobNotFoundError
from bordermatch.eval import det_chart
from bordermatch.match.decide import OperatingPoint
from bordermatch.service.core import ServiceCore
from bordermatch.service.thresholds import ServiceThresholds
from bordermatch.store import gallery_view, repo, reports
from bordermatch.store.keys import Principal
from bordermatch.store.tables import Gallery

MAX_REPORT_DAYS = 366
LANE_LIST_DAYS = 30  # the monitor lists lanes active this recently (any lane opens by name)


def lanes(core: ServiceCore) -> list[reports.LaneActivity]:
    with core.sessions() as s:
        return reports.lanes(s, core.clock.now() - timedelta(days=LANE_LIST_DAYS))


def lane_head(core: ServiceCore, lane: str) -> tuple[str | None, int]:
    with core.sessions() as s:
        return reports.lane_head(s, lane)


def monitor(core: ServiceCore, who: Principal, lane: str,
            limit: int = 12) -> list[reports.MonitorVehicle]:
    with core.sessions.begin() as s:
        return reports.latest_vehicles(s, who, core.clock.now(), lane, limit)


def occupant_photo(core: ServiceCore, who: Principal, occupant_id: str,
                   ) -> tuple[str, bytes | None]:
    """(state, image bytes): "stored" with the bytes, else "purged", "no_capture",
    "not_retained", or "missing" when the row names a blob the store no longer holds."""
    with core.sessions.begin() as s:
        state, blob = reports.occupant_photo_blob(s, who, core.clock.now(), occupant_id)
    if state != "stored" or blob is None:
        return state, None
    try:
        return state, core.blobs.get(blob, kind="image")
    except BlobNotFoundError:
        # Purged between the row read and the fetch: show it as purged, not as an error.
        return "purged", None


@dataclass(frozen=True, slots=True)
class Reports:
    since: datetime
    days: int
    rates: dict[str, list[reports.RateRow]]  # by lane, row, day
    outcomes: list[reports.OutcomeRow]


def report_since(core: ServiceCore, days: int) -> datetime:
    return core.clock.now() - timedelta(days=max(1, min(days, MAX_REPORT_DAYS)))


def rates(core: ServiceCore, who: Principal, by: str, days: int) -> list[reports.RateRow]:
    with core.sessions.begin() as s:
        return reports.rates(s, who, core.clock.now(), by, report_since(core, days))


def outcomes(core: ServiceCore, who: Principal, days: int) -> list[reports.OutcomeRow]:
    with core.sessions.begin() as s:
        return reports.review_outcomes(s, who, core.clock.now(), report_since(core, days))


def report(core: ServiceCore, who: Principal, days: int) -> Reports:
    since = report_since(core, days)
    with core.sessions.begin() as s:
        now = core.clock.now()
        by = {g: reports.rates(s, who, now, g, since) for g in reports.GROUPINGS}
        outcomes = reports.review_outcomes(s, who, now, since)
    return Reports(since, days, by, outcomes)


def operating_points(th: ServiceThresholds) -> dict[str, OperatingPoint]:
    return {"verify": th.verify, "document": th.document, "alias": th.alias,
            "search": th.search}


def det_marks(core: ServiceCore) -> list[det_chart.MarkedPoint]:
    return det_chart.mark(operating_points(core.thresholds))


def det_png(core: ServiceCore) -> bytes:
    """The configured matcher's DET with its operating points (drawn once per process)."""
    marks = tuple(det_chart.mark(operating_points(core.thresholds)))
    return _det_png(core.settings.matcher, marks)


@lru_cache(maxsize=8)
def _det_png(matcher: str, marks: tuple[det_chart.MarkedPoint, ...]) -> bytes:
    from bordermatch.match.fusion import load_calibration

    others = tuple(m for m in load_calibration()["matchers"] if m != matcher)
    return det_chart.det_png(matcher, list(marks), others)


@dataclass(frozen=True, slots=True)
class GalleryView:
    gallery: Gallery
    enrolled: int
    travelers: gallery_view.TravelerPage
    report: gallery_view.EnrolmentReport
    aliases: list[gallery_view.AliasAlert]


def gallery(core: ServiceCore, who: Principal, gallery_id: str, page: int) -> GalleryView:
    with core.sessions.begin() as s:
        g = repo.get_gallery(s, gallery_id)
        travelers = gallery_view.travelers_page(s, who, core.clock.now(), g, page)
        report = gallery_view.enrolment_report(s, g.id)
        aliases = gallery_view.open_alias_alerts(s, g.id)
        return GalleryView(g, report.by_status.get("enrolled", 0), travelers, report, aliases)
