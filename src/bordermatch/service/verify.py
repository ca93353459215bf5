"""1:1 verification: a live photo against a document photo, at the configured FMR.

Nothing is stored but the audit entry: the two photos never leave the request.
"""

from __future__ import annotations

from bordermatch.match.engine import Verification
from bordermatch.service.core import ServiceCore
from bordermatch.store import audit
from bordermatch.store.keys import Principal


def verify(core: ServiceCore, who: Principal, live: bytes, document: bytes) -> Verification:
    a = core.decode(live, "live photo")
    b = core.decode(document, "document photo")
    result = core.engine.verify(a, b)
    with core.sessions.begin() as s:
        audit.append(s, core.clock.now(), who, "verify.1to1", "verification", None,
                     decision=result.decision.outcome.value,
                     reason=result.decision.reason.value,
                     score=round(result.comparison.fused, 4))
    return result
