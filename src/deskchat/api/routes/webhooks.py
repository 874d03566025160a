"""Webhooks (admins): endpoints, their deliveries, a test event."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskchat.api.deps import Caller, Ctx
from deskchat.api.schemas import Limit, PathId, WebhookIn, WebhookPatch, changes
from deskchat.services import webhooks

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post("", status_code=201)
async def create_webhook(body: WebhookIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Add an endpoint for some events; the answer holds its signing secret (``whsec_...``)."""
    return await webhooks.create(ctx, caller, body.url, body.events, body.description)


@router.get("")
async def list_webhooks(caller: Caller, ctx: Ctx, limit: Limit = 50, cursor: str | None = None) -> dict[str, Any]:
    """Endpoints, newest first."""
    return await webhooks.list_all(ctx, caller, limit, cursor)


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """One endpoint, with its secret."""
    return await webhooks.get(ctx, caller, webhook_id)


@router.patch("/{webhook_id}")
async def update_webhook(webhook_id: PathId, body: WebhookPatch, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Change the url, events or description."""
    return await webhooks.update(ctx, caller, webhook_id, changes(body))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: PathId, caller: Caller, ctx: Ctx) -> Response:
    """Remove the endpoint and its deliveries."""
    await webhooks.delete(ctx, caller, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(webhook_id: PathId, caller: Caller, ctx: Ctx, limit: Limit = 50,
                          cursor: str | None = None) -> dict[str, Any]:
    """Recent deliveries, newest first: event id (the webhook-id), event, status, attempts, last HTTP status."""
    return await webhooks.deliveries(ctx, caller, webhook_id, limit, cursor)


@router.post("/{webhook_id}/test", status_code=202)
async def send_test_event(webhook_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """`Send test event`: a ``webhook.test`` delivery to this endpoint."""
    return await webhooks.send_test(ctx, caller, webhook_id)
