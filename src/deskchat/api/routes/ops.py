"""Health, readiness and Prometheus metrics for load balancers and monitoring."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from deskchat.api.deps import Ctx, bearer_token
from deskchat.services import ops

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, ctx: Ctx) -> Response:
    """The process can serve: the database (and Redis, when configured) answer."""
    checks = await ops.readiness(ctx, request.app.state.broker_ready)
    ok = all(v == "ok" for v in checks.values())
    return Response(content=ops.to_json({"status": "ok" if ok else "unavailable", "checks": checks}),
                    status_code=200 if ok else 503, media_type="application/json")


@router.get("/metrics")
async def metrics(request: Request, ctx: Ctx) -> Response:
    """Prometheus metrics; with DESKCHAT_METRICS_TOKEN set, only for ``Authorization: Bearer <that token>``."""
    ops.check_metrics_token(ctx, bearer_token(request))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
