"""The ``deskchat`` command: serve, db upgrade, technician create, group create, demo."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from pydantic import ValidationError

from deskchat.config import Settings, load_settings
from deskchat.domain.errors import DomainError
from deskchat.ratelimit import MemoryRateLimiter
from deskchat.realtime.broker import MemoryBroker
from deskchat.services import admin
from deskchat.services.context import Context, SqlStore
from deskchat.storage.db import Database, upgrade

app = typer.Typer(help="deskchat: live chat for IT service desks.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.")
technician_app = typer.Typer(help="Technician accounts.")
group_app = typer.Typer(help="Support groups.")
app.add_typer(db_app, name="db")
app.add_typer(technician_app, name="technician")
app.add_typer(group_app, name="group")
T = TypeVar("T")
DEMO_PASSWORD = "deskchat-demo"


def _settings() -> Settings:
    """The settings, or a clear message and exit code 2 when one of them is wrong."""
    try:
        return load_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "DESKCHAT_" + "_".join(str(p) for p in error["loc"]).upper()
            typer.secho(f"error: {name}: {error['msg']}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _run(action: Callable[[Context], Awaitable[T]]) -> T:
    """Run one async action against the configured database (migrated first)."""
    settings = _settings()
    upgrade(settings.database_url)

    async def main() -> T:
        db = Database(settings.database_url)
        ctx = Context(settings, SqlStore(db), MemoryBroker(), MemoryRateLimiter(), "cli-" + secrets.token_hex(4))
        try:
            return await action(ctx)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        typer.secho(f"error: {exc.detail} {exc.errors or ''}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


@app.command()
def serve(host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
          workers: Annotated[int, typer.Option(help="Server processes (needs PostgreSQL and Redis).")] = 1) -> None:
    """Apply migrations and serve the app."""
    settings = _settings()
    refusal = check_workers(settings, workers)
    if refusal:
        typer.secho(refusal, fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    base = f"http://{host}:{port}"
    typer.echo(f"deskchat on {base}  (chat {base}/chat, console {base}/console, admin {base}/admin, "
               f"requests {base}/requests, API docs {base}/docs)")
    uvicorn.run("deskchat.app:create_app", factory=True, host=host, port=port, workers=workers,
                ws_ping_interval=settings.ws_ping_interval_seconds, ws_ping_timeout=settings.ws_ping_interval_seconds,
                ws_max_size=settings.ws_max_frame_bytes,
                log_level=settings.log_level.lower(), access_log=False, proxy_headers=True,
                # longer than a proxy's upstream keep-alive (nginx: 60 s), so the proxy closes idle
                # connections first and never sends a request on one we are closing
                timeout_keep_alive=75)


def check_workers(settings: Settings, workers: int) -> str | None:
    """Why ``--workers N`` cannot run here, or None."""
    if workers < 1:
        return "--workers must be 1 or more."
    if workers > 1 and settings.is_sqlite:
        return ("--workers > 1 needs PostgreSQL: SQLite has one writer and processes would not share events. "
                "Set DESKCHAT_DATABASE_URL=postgresql+asyncpg://... and DESKCHAT_REDIS_URL.")
    if workers > 1 and not settings.redis_url:
        return ("--workers > 1 needs Redis so events reach sockets on every process. "
                "Set DESKCHAT_REDIS_URL=redis://host:6379/0.")
    return None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    upgrade(_settings().database_url)
    typer.echo("database is up to date")


@group_app.command("create")
def group_create(name: str, description: Annotated[str, typer.Option()] = "") -> None:
    """Add a support group."""
    group = _run(lambda ctx: admin.create_group(ctx, None, name, description))
    typer.echo(f"group {group['id']}: {group['name']}")


@technician_app.command("create")
def technician_create(
    name: str, email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    role: Annotated[str, typer.Option(help="technician or admin")] = "technician",
    group: Annotated[list[int] | None, typer.Option(help="Group id (repeatable).")] = None,
) -> None:
    """Add a technician (or admin)."""
    if role not in ("technician", "admin"):
        raise typer.BadParameter("role must be technician or admin")
    tech = _run(lambda ctx: admin.create_technician(ctx, None, name=name, email=email, password=password,
                                                    role=role, group_ids=group or []))
    typer.echo(f"technician {tech['id']}: {tech['name']} <{tech['email']}> ({tech['role']})")


@app.command()
def demo() -> None:
    """Create demo groups, technicians, an admin and canned messages, and print the logins."""
    logins = _run(_demo)
    typer.echo("Demo logins (password for all: " + DEMO_PASSWORD + "):")
    for line in logins:
        typer.echo("  " + line)


async def _demo(ctx: Context) -> list[str]:
    from deskchat.services.demo import seed
    return await seed(ctx, DEMO_PASSWORD)


def main() -> Any:
    """Entry point."""
    return app()
