"""Webhooks: admins add endpoints; deliveries are signed per Standard Webhooks and sent to public addresses.

An endpoint's host must be (and resolve to) public addresses only, unless DESKCHAT_WEBHOOK_ALLOW_PRIVATE:
checked when it is saved and again at every send, on the addresses the name resolves to then, and the
request goes to the address that was checked (the Host header and TLS name stay the URL's), so a DNS answer
that changes in between (rebinding) cannot turn a delivery towards the inside.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks.webhooks import Webhook as Signer

from deskchat.domain.errors import NotFound, ValidationFailed
from deskchat.domain.outbox import TEST_EVENT, Webhook, address_allowed, check_events, check_url
from deskchat.services import common, outbox
from deskchat.services.auth import Principal
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.mails import Outcome
from deskchat.services.views import page
from deskchat.storage.outbox import OutboxItem

TIMEOUT = 10.0
USER_AGENT = "deskchat-webhooks/1"


def webhook_view(hook: Webhook) -> dict[str, Any]:
    """An endpoint as the API shows it (with its secret: admins only ever see these)."""
    return {"id": hook.id, "url": hook.url, "events": list(hook.events), "description": hook.description,
            "secret": hook.secret, "created_at": hook.created_at.isoformat()}


def new_secret() -> str:
    """``whsec_`` and 32 random bytes in base64, as Standard Webhooks writes secrets."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to now (an address literal resolves to itself)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def _check_target(ctx: Context, url: str) -> None:
    """422 unless the URL is http(s) and its host is, and resolves to, public addresses only."""
    _, host, port = check_url(url)
    if ctx.settings.webhook_allow_private:
        return
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError):
        raise ValidationFailed(f"{host} does not resolve.", errors={"url": "the host does not resolve"}) from None
    blocked = [a for a in addresses if not address_allowed(a)]
    if blocked or not addresses:
        raise ValidationFailed("Webhooks may not point at loopback, private or link-local addresses "
                               "(DESKCHAT_WEBHOOK_ALLOW_PRIVATE allows them).",
                               errors={"url": f"{host} is {', '.join(blocked) or 'not public'}"})


async def create(ctx: Context, principal: Principal, url: str, events: list[str], description: str) -> dict[str, Any]:
    """Admins add an endpoint; its secret is made here."""
    principal.admin()
    wanted = check_events(events)
    await _check_target(ctx, url)
    async with unit_of_work(ctx) as uow:
        hook_id = await uow.repos.webhooks.insert_webhook(url, wanted, description, new_secret(), uow.now)
        hook = await uow.repos.webhooks.load_webhook(hook_id)
    assert hook is not None
    return webhook_view(hook)


async def _load(ctx: Context, webhook_id: int) -> Webhook:
    async with reading(ctx) as repos:
        hook = await repos.webhooks.load_webhook(webhook_id)
    if hook is None:
        raise NotFound(f"There is no webhook {webhook_id}.")
    return hook


async def get(ctx: Context, principal: Principal, webhook_id: int) -> dict[str, Any]:
    """One endpoint."""
    principal.admin()
    return webhook_view(await _load(ctx, webhook_id))


async def list_all(ctx: Context, principal: Principal, limit: int, cursor: str | None) -> dict[str, Any]:
    """Endpoints, newest first."""
    principal.admin()
    common.check_limit(limit)
    async with reading(ctx) as repos:
        hooks = await repos.webhooks.list_webhooks(common.parse_cursor(cursor), limit)
    return page([webhook_view(h) for h in hooks], limit)


async def update(ctx: Context, principal: Principal, webhook_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change an endpoint's url, events or description."""
    principal.admin()
    await _load(ctx, webhook_id)
    if "events" in changes:
        changes = {**changes, "events": check_events(changes["events"])}
    if "url" in changes:
        await _check_target(ctx, changes["url"])
    async with unit_of_work(ctx) as uow:
        await uow.repos.webhooks.update_webhook(webhook_id, changes)
    return webhook_view(await _load(ctx, webhook_id))


async def delete(ctx: Context, principal: Principal, webhook_id: int) -> None:
    """Remove an endpoint and its deliveries."""
    principal.admin()
    await _load(ctx, webhook_id)
    async with unit_of_work(ctx) as uow:
        await uow.repos.webhooks.delete_webhook(webhook_id)


async def deliveries(ctx: Context, principal: Principal, webhook_id: int, limit: int,
                     cursor: str | None) -> dict[str, Any]:
    """An endpoint's deliveries, newest first."""
    principal.admin()
    common.check_limit(limit)
    await _load(ctx, webhook_id)
    async with reading(ctx) as repos:
        rows = await repos.outbox.deliveries(webhook_id, common.parse_cursor(cursor), limit)
    items = [{"event_id": d.event_id, "event": d.event, "status": d.status, "attempts": d.attempts,
              "last_status_code": d.last_status_code, "last_error": d.last_error,
              "created_at": d.created_at.isoformat()} for _, d in rows]
    return {"items": items, "next_cursor": str(rows[-1][0]) if len(rows) == limit else None}


async def send_test(ctx: Context, principal: Principal, webhook_id: int) -> dict[str, Any]:
    """`Send test event`: a ``webhook.test`` delivery to this endpoint alone, through the outbox."""
    admin = principal.admin()
    hook = await _load(ctx, webhook_id)
    async with unit_of_work(ctx) as uow:
        body = json.dumps({"type": TEST_EVENT, "timestamp": uow.now.isoformat(),
                           "data": {"webhook_id": hook.id, "sent_by": admin.name}}, separators=(",", ":"))
        item = outbox.webhook_item(hook.id, TEST_EVENT, body)
        await uow.repos.outbox.insert_items([item], uow.now)
    if ctx.outbox_wake is not None:
        ctx.outbox_wake.set()
    return {"event_id": item["event_id"]}


# -- sending ----------------------------------------------------------------------------------------


def _pinned(url: str, address: str) -> tuple[str, str]:
    """The URL with its host replaced by a checked address, and the Host header it had."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=netloc)), host_header


async def deliver(ctx: Context, item: OutboxItem) -> Outcome:
    """POST one signed delivery; 2xx is delivered, anything else (or nothing within 10 s) a failure."""
    async with reading(ctx) as repos:
        hook = await repos.webhooks.load_webhook(item.webhook_id or 0)
    if hook is None:
        return Outcome(False, None, "the webhook was deleted")
    _, host, port = check_url(hook.url)
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError) as exc:
        return Outcome(False, None, f"{host} does not resolve: {exc}")
    if not ctx.settings.webhook_allow_private and (not addresses or not all(map(address_allowed, addresses))):
        return Outcome(False, None, f"{host} resolves to a private address ({', '.join(addresses)}); not sent")
    target, host_header = _pinned(hook.url, addresses[0])
    now = datetime.now(UTC)
    headers = {"content-type": "application/json", "user-agent": USER_AGENT, "host": host_header,
               "webhook-id": item.event_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Signer(hook.secret).sign(item.event_id, now, item.payload)}
    extensions = {"sni_hostname": host} if target.startswith("https") else {}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
            response = await client.post(target, content=item.payload.encode(), headers=headers,
                                         extensions=extensions)
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code)
    return Outcome(False, response.status_code, f"HTTP {response.status_code}")
