"""The web UI: static pages with a strict Content-Security-Policy, and /widget.js."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

WEB = Path(__file__).resolve().parent.parent.parent / "web"
PAGES = ("chat", "console", "admin", "requests")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; object-src 'none'; ")
router = APIRouter(include_in_schema=False)


def _page(name: str) -> Response:
    frame_ancestors = "frame-ancestors *" if name == "chat" else "frame-ancestors 'self'"
    return FileResponse(WEB / "templates" / f"{name}.html", media_type="text/html",
                        headers={"Content-Security-Policy": CSP + frame_ancestors, "Cache-Control": "no-cache"})


@router.get("/")
async def index() -> Response:
    """End users land on the chat page."""
    return RedirectResponse("/chat")


@router.get("/chat")
async def chat_page() -> Response:
    """The end-user chat page (also the widget's iframe)."""
    return _page("chat")


@router.get("/console")
async def console_page() -> Response:
    """The technician console."""
    return _page("console")


@router.get("/admin")
async def admin_page() -> Response:
    """Admin pages."""
    return _page("admin")


@router.get("/requests")
async def requests_page() -> Response:
    """Incident requests."""
    return _page("requests")


@router.get("/widget.js")
async def widget() -> Response:
    """One script tag on any site adds the chat launcher."""
    return FileResponse(WEB / "static" / "widget.js", media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})
