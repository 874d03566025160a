"""The ASGI application: routes, middleware and the lifespan (broker, hub, sweeper, presence)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.middleware.sessions import SessionMiddleware

from deskchat import __version__
from deskchat.api import errors, oidc, ws
from deskchat.api.body import StrictJSONBody
from deskchat.api.middleware import BodyLimit, HeadersAndMetrics
from deskchat.api.routes import (
    admin,
    attachments,
    auth,
    canned,
    chats,
    desk,
    ops,
    portal,
    requesters,
    requests,
    search,
    web,
    webhooks,
)
from deskchat.config import Settings, load_settings
from deskchat.domain.people import Technician
from deskchat.logging import configure
from deskchat.ratelimit import MemoryRateLimiter, RateLimiter
from deskchat.realtime import events
from deskchat.realtime.broker import Broker, make_broker
from deskchat.realtime.hub import Hub
from deskchat.services import assign, missed, presence, sender, sso
from deskchat.services import chats as chat_service
from deskchat.services import ops as ops_service
from deskchat.services import search as search_service
from deskchat.services.auth import ensure_first_admin
from deskchat.services.context import Context, SqlStore
from deskchat.services.messages import MessageWriter
from deskchat.storage.db import Database, upgrade
from deskchat.storage.errors import Duplicate

log = structlog.get_logger()
STATIC = Path(__file__).parent / "web" / "static"


async def _every(seconds: float, action: Any) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await action()
        except Exception:  # keep beating through a database hiccup
            log.exception("periodic_task_failed")


def _limiter(broker: Broker, namespace: str) -> RateLimiter:
    redis = getattr(broker, "redis", None)
    if redis is not None:
        from deskchat.ratelimit import RedisRateLimiter
        return RedisRateLimiter(redis, namespace)
    return MemoryRateLimiter()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the database, broker, hub, sweeper and presence heartbeat; stop them in reverse."""
    settings: Settings = app.state.settings
    if settings.migrate_on_start:
        await asyncio.to_thread(upgrade, settings.database_url)
    db = Database(settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
                  pool_timeout=settings.db_pool_timeout_seconds)
    store = SqlStore(db)
    namespace = f"{settings.redis_prefix}:{await ops_service.installation_id(store)}"
    broker = make_broker(settings, namespace)
    ctx = Context(settings, store, broker, _limiter(broker, namespace), secrets.token_hex(8),
                  outbox_wake=asyncio.Event())
    ctx.writer = MessageWriter(ctx)
    ctx.assigner = assign.Assigner(ctx)
    hub = Hub(lambda c, a, n: chat_service.fetch_after(ctx, c, a, n),
              lambda t, n: presence.socket_count_changed(ctx, t, n), settings.offline_grace_seconds)
    app.state.ctx, app.state.hub = ctx, hub
    app.state.oidc = oidc.provider_client(ctx) if settings.oidc_enabled else None
    app.state.broker_ready = getattr(broker, "ready", _always_ready)
    await broker.start(lambda event: hub.handle(events.decode(event)), lambda: _after_broker_outage(ctx, hub))
    await _ensure_first_admin(ctx)
    tasks = [asyncio.create_task(missed.run_sweeper(ctx), name="missed-chat-sweeper"),
             asyncio.create_task(sender.run_sender(ctx), name="outbox-sender"),
             asyncio.create_task(_every(settings.sweep_interval_seconds, ctx.assigner.soon_async),
                                 name="auto-assign-sweep"),
             asyncio.create_task(_every(5.0, lambda: ops_service.refresh_desk_metrics(ctx)), name="desk-metrics"),
             asyncio.create_task(_every(settings.search_index_seconds, lambda: search_service.index_pending(ctx)),
                                 name="search-indexer"),
             asyncio.create_task(_every(presence.heartbeat_interval(settings.presence_ttl_seconds),
                                        lambda: presence.heartbeat(ctx, hub.present_technicians())),
                                 name="presence-heartbeat")]
    log.info("started", version=__version__, database=db.engine.dialect.name, process_id=ctx.process_id,
             broker=type(broker).__name__)
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        if ctx.writer is not None:
            await ctx.writer.stop()
        for sock in hub.sockets():
            sock.close_soon()
        with contextlib.suppress(Exception):
            await presence.forget_process(ctx)
        await broker.stop()
        await db.dispose()


async def _after_broker_outage(ctx: Context, hub: Hub) -> None:
    """Events published while the broker was away were lost: re-check the sockets' accounts (a lost
    ``close_technician``), re-read the timelines, re-send waiting alerts."""
    await ws.recheck_accounts(ctx, hub)
    await hub.resync()
    for sock in hub.sockets():
        if isinstance(sock.actor, Technician) and not sock.closed:
            for alert in await chat_service.waiting_alerts_for(ctx, sock.actor):
                sock.enqueue(alert)


async def _ensure_first_admin(ctx: Context) -> None:
    try:
        await ensure_first_admin(ctx)
    except Duplicate:  # processes starting together on a new database: another one created it
        await ensure_first_admin(ctx)


async def _always_ready() -> bool:
    return True


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; ``settings`` default to the environment."""
    settings = settings or load_settings()
    configure(settings.log_format, settings.log_level)
    # Swagger UI and ReDoc served from the fastapi-offline package: no third-party script on our origin
    app = FastAPIOffline(title="deskchat", version=__version__, lifespan=lifespan,
                         description="Live chat for IT service desks. The contract is API.md; "
                                     "the WebSocket protocol is described in docs/api.md.")
    app.state.settings = settings
    errors.install(app)
    for module in (auth, portal, chats, attachments, desk, search, requests, requesters, canned, admin, webhooks,
                   ops, web):
        app.include_router(module.router)
    app.include_router(ws.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if settings.allowed_origins:  # the widget's calls carry a bearer token, never cookies
        app.add_middleware(CORSMiddleware, allow_origins=settings.allowed_origins, allow_credentials=False,
                           allow_methods=["*"], allow_headers=["Authorization", "Content-Type"])
    if settings.oidc_enabled:  # authlib keeps a sign-in's marker in this signed cookie (itsdangerous)
        app.add_middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie=oidc.SIGN_IN_COOKIE,
                           max_age=sso.SIGN_IN_SECONDS, path=oidc.SIGN_IN_PATH, same_site="lax",
                           https_only=settings.cookie_secure)
    app.add_middleware(StrictJSONBody)  # inside BodyLimit: the size limit applies first
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       upload_bytes=settings.max_attachment_bytes + attachments.MULTIPART_OVERHEAD)
    app.add_middleware(HeadersAndMetrics, hsts=settings.cookie_secure)
    return app
