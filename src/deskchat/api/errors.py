"""The one place that maps errors to HTTP: application/problem+json (an HTML page in sign-in navigations)."""

from __future__ import annotations

import html
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from deskchat.domain.errors import DomainError

log = structlog.get_logger()
PROBLEM = "application/problem+json"
PAGE_PATHS = ("/api/v1/auth/oidc/",)  # browser navigations: errors there are HTML pages for people
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def problem_response(problem: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem document as an HTTP response."""
    return JSONResponse(problem, status_code=int(problem["status"]), media_type=PROBLEM, headers=headers)


def domain_problem(exc: DomainError) -> JSONResponse:
    """A DomainError as an HTTP response (with Retry-After when rate limited)."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return problem_response(exc.problem(), headers)


def validation_errors(errors: Any) -> dict[str, str]:
    """FastAPI/pydantic validation errors as field -> message."""
    found: dict[str, str] = {}
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        found[".".join(loc) or "body"] = str(err.get("msg", "invalid"))
    return found


def _page_for_browser(request: Request, problem: dict[str, Any]) -> Response | None:
    """Single sign-on happens in browser navigations: there a failure is a page a person can read."""
    if not request.url.path.startswith(PAGE_PATHS) or "text/html" not in request.headers.get("accept", ""):
        return None
    title, detail = html.escape(str(problem["title"])), html.escape(str(problem["detail"]))
    body = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title} - deskchat</title>"
            "<link rel='stylesheet' href='/static/css/base.css'></head><body class='error-page'><main>"
            f"<h1>{title}</h1><p>{detail}</p><p><a href='/chat'>Chat with the service desk</a> · "
            "<a href='/console'>Technician sign-in</a></p></main></body></html>")
    return HTMLResponse(body, status_code=int(problem["status"]),
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'self'"})


async def _domain(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return _page_for_browser(request, exc.problem()) or domain_problem(exc)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    problem = {"type": "validation_error", "title": "Validation error", "status": 422,
               "detail": "The request is invalid.", "errors": errors}
    if page := _page_for_browser(request, {**problem, "detail": "The sign-in link is not valid: "
                                           + "; ".join(f"{k}: {v}" for k, v in errors.items())}):
        return page
    return problem_response(problem)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (400, 422):  # a body that could not be decoded (not UTF-8, nesting too deep): malformed
        return problem_response({"type": "validation_error", "title": "Validation error", "status": 422,
                                 "detail": "The request body could not be read.", "errors": {"body": str(exc.detail)}})
    code = _HTTP_CODES.get(exc.status_code, "error")
    return problem_response({"type": code, "title": code.replace("_", " ").capitalize(),
                             "status": exc.status_code, "detail": str(exc.detail)},
                            dict(exc.headers) if exc.headers else None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, exc_info=exc)
    return problem_response({"type": "internal_error", "title": "Internal error", "status": 500,
                             "detail": "Something went wrong on our side."})


def install(app: FastAPI) -> None:
    """Register the handlers."""
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
