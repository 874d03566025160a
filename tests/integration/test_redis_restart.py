"""Redis goes away in the middle of a conversation and comes back: the database is the truth, so every
message sent meanwhile still reaches both sides, exactly once and in order (the test's own Redis)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from deskchat.realtime.redis_broker import RedisBroker
from tests.support.client import Api, Desk, Socket
from tests.support.redis_server import RedisServer
from tests.support.server import Server, free_port, postgres_database

pytestmark = pytest.mark.anyio


@pytest.fixture
def two_servers() -> Iterator[tuple[RedisServer, list[Server]]]:
    """Two processes on one PostgreSQL database and a private Redis (rate limits on, as in production)."""
    with postgres_database() as url, RedisServer() as redis:
        env = {"DESKCHAT_REDIS_URL": redis.url, "DESKCHAT_RATE_LIMIT_ENABLED": "true"}
        servers = [Server(url, env=env) for _ in range(2)]
        try:
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda s: s.start(), servers))
            yield redis, servers
        finally:
            for srv in servers:
                srv.stop()


async def readiness(server: Server) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(server.url + "/readyz", timeout=5)
    return response.status_code, response.json()


async def eventually(check: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def all_ready(servers: list[Server], status: int) -> bool:
    return [(await readiness(s))[0] for s in servers] == [status] * len(servers)


class Conversation:
    """A technician on process A and a requester on process B, each sending both ways."""

    def __init__(self, chat_id: int, tech_api: Api, tech_sock: Socket, visitor: Api,
                 user_sock: Socket) -> None:
        self.chat_id, self.tech_api, self.tech_sock = chat_id, tech_api, tech_sock
        self.visitor, self.user_sock = visitor, user_sock
        self.sent: list[str] = []
        self._n = 0

    def _next(self, who: str) -> tuple[str, str]:
        self._n += 1
        body = f"{who} {self._n}"
        self.sent.append(body)
        return body, f"{who}-{self._n}"

    async def tech_ws(self) -> None:
        """The technician sends over the WebSocket; the ack must come (the database took it)."""
        body, cid = self._next("tech")
        start = len(self.tech_sock.frames)
        await self.tech_sock.send({"type": "send", "chat_id": self.chat_id, "body": body, "client_msg_id": cid})
        ack = await self.tech_sock.wait_for(lambda f: f.get("client_msg_id") == cid, timeout=5, start=start)
        assert ack["type"] == "ack", ack

    async def user_ws(self) -> None:
        body, cid = self._next("user")
        start = len(self.user_sock.frames)
        await self.user_sock.send({"type": "send", "chat_id": self.chat_id, "body": body, "client_msg_id": cid})
        ack = await self.user_sock.wait_for(lambda f: f.get("client_msg_id") == cid, timeout=5, start=start)
        assert ack["type"] == "ack", ack

    async def tech_rest(self) -> None:
        body, cid = self._next("tech")
        await self.tech_api.ok("POST", f"/chats/{self.chat_id}/messages", 201,
                               json={"body": body, "client_msg_id": cid})

    async def user_rest(self) -> None:
        body, cid = self._next("user")
        await self.visitor.ok("POST", f"/chats/{self.chat_id}/messages", 201,
                              json={"body": body, "client_msg_id": cid})

    async def last_seq(self) -> int:
        return int((await self.visitor.ok("GET", f"/chats/{self.chat_id}/messages"))["last_seq"])

    async def both_have(self, seq: int, timeout: float) -> None:
        """Both sockets got every message up to ``seq`` (nothing more needs to be sent to get them)."""
        for sock in (self.tech_sock, self.user_sock):
            await sock.wait_for(lambda f: f["type"] == "message" and f["seq"] == seq, timeout=timeout)

    def check_once_in_order(self, first_seq: dict[str, int], last: int) -> None:
        for name, sock in (("tech", self.tech_sock), ("user", self.user_sock)):
            seqs = [f["seq"] for f in sock.messages(self.chat_id)]
            assert {s: n for s, n in Counter(seqs).items() if n > 1} == {}, f"{name} got duplicates"
            assert seqs == list(range(first_seq[name], last + 1)), f"{name}: {seqs}"
            bodies = [f["data"]["body"] for f in sock.messages(self.chat_id)]
            assert [b for b in bodies if b in self.sent] == self.sent, f"{name} missed or reordered messages"


async def test_messages_sent_while_redis_is_down_reach_both_sides_once_after_it_returns(
        two_servers: tuple[RedisServer, list[Server]]) -> None:
    redis, servers = two_servers
    a, b = [await Desk(s.url, s.ws_url).start() for s in servers]
    try:
        group = await a.group()
        _, tech_api, tech_sock = await a.technician([group["id"]])
        chat, visitor = await b.start_chat(group["id"], "Cannot print to the 3rd floor printer")
        assert tech_sock and visitor.token
        user_sock = await b.socket(visitor.token, resume={chat["id"]: 0})
        await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
        talk = Conversation(chat["id"], tech_api, tech_sock, visitor, user_sock)
        await talk.tech_ws()
        await talk.user_ws()
        await talk.both_have(4, timeout=5)

        # 1. Redis dies hard and stays away for a while.
        redis.stop(signal.SIGKILL)
        await eventually(lambda: all_ready(servers, 503), timeout=10)
        status, body = await readiness(servers[0])
        assert status == 503
        assert body["checks"]["broker"] != "ok" and body["checks"]["database"] == "ok"
        for send in (talk.tech_ws, talk.user_rest, talk.user_ws, talk.tech_rest, talk.user_ws, talk.tech_ws,
                     talk.user_rest, talk.tech_ws):
            started = time.monotonic()
            await send()  # the database is the truth: every send succeeds while Redis is away,
            took = time.monotonic() - started
            assert took < 2.0, (send.__name__, took)  # and promptly (publishing gives up at once)
        late, _ = await b.start_chat(group["id"], "Started while Redis was away")  # its alert cannot go out now
        await asyncio.sleep(1.5)  # the brokers keep retrying with backoff meanwhile
        assert (await readiness(servers[1]))[0] == 503
        redis.start()
        await eventually(lambda: all_ready(servers, 200), timeout=15)
        last = await talk.last_seq()
        assert last == 4 + 8
        await talk.both_have(last, timeout=10)  # nothing new was sent: the hubs re-read what was missed
        alert = await tech_sock.wait_for(lambda f: f["type"] == "alert" and f["data"]["id"] == late["id"], timeout=5)
        assert alert["data"]["state"] == "waiting"  # the technician is alerted once Redis is back

        # 2. A short, clean restart (SIGTERM, back at once) with messages sent right across it.
        redis.stop(signal.SIGTERM)
        await talk.user_rest()
        await talk.tech_rest()
        redis.start()
        await eventually(lambda: all_ready(servers, 200), timeout=15)
        last = await talk.last_seq()
        await talk.both_have(last, timeout=10)

        # 3. Redis hangs (SIGSTOP: connections stay open, nothing answers): sends still succeed promptly.
        assert redis.process
        redis.process.send_signal(signal.SIGSTOP)
        try:
            for send in (talk.tech_ws, talk.user_rest, talk.user_ws):
                started = time.monotonic()
                await send()
                assert time.monotonic() - started < 2.0, send.__name__
            await eventually(lambda: all_ready(servers, 503), timeout=10)
        finally:
            redis.process.send_signal(signal.SIGCONT)
        await eventually(lambda: all_ready(servers, 200), timeout=15)
        last = await talk.last_seq()
        await talk.both_have(last, timeout=10)

        # 4. Live again: one more each way, then every message was delivered exactly once, in order, to both.
        await talk.tech_ws()
        await talk.user_ws()
        last = await talk.last_seq()
        await talk.both_have(last, timeout=5)
        await asyncio.sleep(0.5)  # time for any duplicate to arrive
        talk.check_once_in_order({"tech": 2, "user": 1}, last)
    finally:
        await a.close()
        await b.close()


async def test_a_lost_publish_is_made_good_while_subscribers_stay_connected() -> None:
    """A publish that fails although every subscriber stays connected (say, only the publishing process lost
    Redis for a moment) must not leave sockets elsewhere behind: every hub is told to re-read the database."""
    heard: list[dict[str, Any]] = []

    async def hub(event: dict[str, Any]) -> None:
        heard.append(event)

    async def resynced() -> None:
        heard.append({"resynced": True})

    with RedisServer() as redis:
        channel = "deskchat-test:events"
        sender, receiver = RedisBroker(redis.url, channel), RedisBroker(redis.url, channel)
        await receiver.start(hub, resynced)
        await sender.start(hub, None)
        try:
            await sender.publish({"frame": {"n": 1}, "to": {}})
            await eventually(lambda: _true(len(heard) == 3), timeout=5)
            assert heard[0] == {"resynced": True}  # on every (re)subscription, the first included
            working, sender.redis = sender.redis, Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
            await sender.publish({"frame": {"n": 2}, "to": {}})  # nobody listens there: this wake-up is lost
            await eventually(lambda: _true(sender.dropped == 1), timeout=5)
            await sender.redis.aclose()
            sender.redis = working  # the publisher reaches Redis again; nothing new is published
            await eventually(lambda: _true(len(heard) == 5), timeout=5)
            assert heard[3:] == [{"control": "resync"}] * 2  # both hubs re-read what they may have missed
            await sender.publish({"frame": {"n": 3}, "to": {}})
            await eventually(lambda: _true(len(heard) == 7), timeout=5)
            assert heard[5:] == [{"frame": {"n": 3}, "to": {}}] * 2
        finally:
            await sender.stop()
            await receiver.stop()


async def _true(value: bool) -> bool:
    return value
