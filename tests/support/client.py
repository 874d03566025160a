"""A small test client for the deskchat API: REST over httpx, WebSocket over websockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import websockets

from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, Server


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Api:
    """REST calls as one caller (bearer token)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        # idle connections are dropped well before the server could close them under us
        self.http = httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=30,
                                      limits=httpx.Limits(keepalive_expiry=2.0))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Any call; the response is returned as it is."""
        return await self.http.request(method, path, headers={**self._headers(), **kw.pop("headers", {})}, **kw)

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """A call that must succeed with ``status``; returns the JSON body."""
        response = await self.request(method, path, **kw)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.aclose()


class Desk:
    """Builds a small help desk on a running server: groups, technicians, requesters."""

    def __init__(self, base_url: str, ws_url: str) -> None:
        self.base_url, self.ws_url = base_url, ws_url
        self.admin = Api(base_url)
        self._apis: list[Api] = [self.admin]
        self._sockets: list[Socket] = []

    async def start(self) -> Desk:
        """Log the admin in."""
        data = await self.admin.ok("POST", "/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        self.admin.token = data["token"]
        return self

    def api(self, token: str | None = None) -> Api:
        """A client for another caller."""
        api = Api(self.base_url, token)
        self._apis.append(api)
        return api

    async def group(self, name: str | None = None) -> dict[str, Any]:
        """A new group."""
        return await self.admin.ok("POST", "/groups", 201, json={"name": name or unique("group")})

    async def technician(self, group_ids: list[int], *, online: bool = True, role: str = "technician",
                         name: str | None = None) -> tuple[dict[str, Any], Api, Socket | None]:
        """A new technician, logged in; when ``online``, status Online with a live socket."""
        name = name or unique("tech")
        email, password = f"{name}@example.com", "password-123"
        tech = await self.admin.ok("POST", "/technicians", 201, json={
            "name": name, "email": email, "password": password, "role": role, "group_ids": group_ids})
        api = self.api()
        api.token = (await api.ok("POST", "/auth/login", json={"email": email, "password": password}))["token"]
        sock = None
        if online:
            sock = await self.socket(api.token)
            await api.ok("PUT", "/me/status", json={"status": "online"})
        return tech, api, sock

    async def start_chat(self, group_id: int, message: str = "My laptop will not start",
                         name: str = "Erin End-User") -> tuple[dict[str, Any], Api]:
        """An end user starts a chat; returns the chat and a client with the visitor token."""
        data = await self.admin.ok("POST", "/chats", 201, json={
            "group_id": group_id, "name": name, "email": "erin@example.com", "message": message})
        return data["chat"], self.api(data["visitor_token"])

    async def socket(self, token: str, resume: dict[int, int] | None = None) -> Socket:
        """An authenticated WebSocket (first-frame auth), optionally resuming."""
        sock = await Socket.connect(self.ws_url, token, resume)
        self._sockets.append(sock)
        return sock

    async def close(self) -> None:
        """Close every client and socket this desk opened."""
        for sock in self._sockets:
            await sock.close()
        for api in self._apis:
            await api.close()


@contextlib.asynccontextmanager
async def open_desk(server: Server) -> AsyncIterator[Desk]:
    """A help desk on a running server, with the admin logged in; everything closed afterwards."""
    desk = await Desk(server.url, server.ws_url).start()
    try:
        yield desk
    finally:
        await desk.close()


class Socket:
    """A WebSocket that collects every frame it receives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, token: str, resume: dict[int, int] | None = None) -> Socket:
        """Connect, authenticate, wait for hello, and send resume if given."""
        ws = await websockets.connect(url, max_size=2**22)
        await ws.send(json.dumps({"type": "auth", "token": token}))
        sock = cls(ws)
        await sock.wait_for(lambda f: f["type"] == "hello")
        # as the web clients do: live messages flow after the first frame, a resume or a ping
        await sock.send({"type": "resume", "chats": {str(k): v for k, v in resume.items()}} if resume is not None
                        else {"type": "ping"})
        return sock

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self._new.set()

    async def send(self, frame: dict[str, Any] | str) -> None:
        """Send a frame (a dict as JSON, or raw text)."""
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def wait_for(self, match: Any, timeout: float = 10.0, start: int = 0) -> dict[str, Any]:
        """The first frame (from index ``start``) that matches; fails after ``timeout``."""
        async def find() -> dict[str, Any]:
            while True:
                for frame in self.frames[start:]:
                    if match(frame):
                        return frame
                self._new.clear()
                if self._reader.done():
                    raise AssertionError(f"socket closed; frames: {self.frames[-5:]}")
                await self._new.wait()
        return await asyncio.wait_for(find(), timeout)

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The ``message`` frames received for a chat, in arrival order."""
        return [f for f in self.frames if f["type"] == "message" and f["chat_id"] == chat_id]

    @property
    def closed(self) -> bool:
        """True once the server closed the connection."""
        return self._reader.done()

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        """Wait until the server closes the connection; the close code it sent."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.ws.close_code  # type: ignore[no-any-return]

    async def close(self) -> None:
        """Close the connection."""
        await self.ws.close()
        self._reader.cancel()
