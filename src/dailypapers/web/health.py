"""/healthz (the process answers) and /readyz (it can serve: database reachable, migrations current),
for a supervisor, a container orchestrator or a load balancer; never cached."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from dailypapers.services import health
from dailypapers.web.params import DbDep

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> JSONResponse:
    """200 while the process can answer at all; reads nothing."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.get("/readyz", summary="Readiness: the database answers and its schema is current")
def readyz(db: DbDep) -> JSONResponse:
    """200 when the process can serve; 503, with what is wrong, when the database does not answer or
    is not migrated to this code's revision."""
    found = health.readiness(db)
    return JSONResponse(found.model_dump(), status_code=200 if found.ready else 503, headers=NO_STORE)
