"""Small helpers shared by the API tests."""

from __future__ import annotations

ROLES = ("lane_device", "gate_device", "officer", "supervisor", "auditor",
         "airline_partner", "admin")


def auth(token: str) -> dict[str, str]:
    return {"X-API-Key": token}
