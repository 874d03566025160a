"""The web UI: static pages with a strict Content-Security-Policy, and /widget.js."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

WEB = Path(__file__).resolve().parent.parent.parent / "web"
PAGES = ("chat", "console", "admin", "requests")
# connect-src 'self' covers the page's own ws:/wss: origin too (CSP3), so sockets go nowhere else.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; ")
router = APIRouter(include_in_schema=False)


def _page(name: str, frame_ancestors: str = "'self'") -> Response:
    return FileResponse(WEB / "templates" / f"{name}.html", media_type="text/html",
                        headers={"Content-Security-Policy": f"{CSP}frame-ancestors {frame_ancestors}",
                                 "Cache-Control": "no-cache"})


def _chat_ancestors(request: Request) -> str:
    """Who may frame /chat: this server and DESKCHAT_ALLOWED_ORIGINS, or exactly the widget's `host`.

    The widget names its page's origin in `host`, and the chat page posts to that origin only;
    framing is then allowed for that origin alone, so the parameter cannot claim another site.
    """
    allowed: list[str] = request.app.state.settings.allowed_origins
    host = request.query_params.get("host")
    if host is None:
        return " ".join(["'self'", *allowed])
    if host in allowed:
        return host
    own = request.headers.get("host", "")
    return "'self'" if host in (f"http://{own}", f"https://{own}") else "'none'"


@router.get("/")
async def index() -> Response:
    """End users land on the chat page."""
    return RedirectResponse("/chat")


@router.get("/chat")
async def chat_page(request: Request) -> Response:
    """The end-user chat page (also the widget's iframe)."""
    return _page("chat", _chat_ancestors(request))


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
