"""``/readyz``, the readiness probe: whether this process can serve requests now (the database
answers and its schema is current). ``/healthz`` (in api/app.py) only says the process is alive
and touches nothing. Take a replica out of the load balancer on a failed ``/readyz``; restart it
only on a failed ``/healthz``."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.settings import Settings
from persistence.readiness import ReadinessCheck

log = logging.getLogger("datarights.health")


def readiness_routes(settings: Settings) -> APIRouter:
    check = ReadinessCheck(settings.database_url, settings.readiness_timeout_seconds)
    router = APIRouter()
    last_reason: list[str | None] = [None]

    @router.get("/readyz", include_in_schema=False)
    async def ready() -> JSONResponse:
        reason = await check.unready_reason()
        # Probes come every few seconds: log when the answer changes, not every time.
        if reason != last_reason[0]:
            if reason is None:
                log.info("ready again")
            else:
                log.warning("not ready: %s", reason)
            last_reason[0] = reason
        if reason is None:
            return JSONResponse({"status": "ready"}, headers={"Cache-Control": "no-store"})
        return JSONResponse(
            {"status": "unavailable", "reason": reason},
            status_code=503,
            headers={"Cache-Control": "no-store", "Retry-After": "5"},
        )

    return router
