"""Email and signed webhooks from the durable outbox, against a real SMTP server (aiosmtpd) and a real HTTP
receiver: every event, retries with the same webhook-id, nothing lost on SIGKILL or while SMTP is down, once in
total with two processes on PostgreSQL, the forward address, private targets refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from tests.integration.test_auth_admin import assert_problem
from tests.support.client import Api, Desk, open_desk, unique
from tests.support.mail_server import MailServer, body_of
from tests.support.receiver import Received, Receiver
from tests.support.redis_server import RedisServer
from tests.support.server import Server, postgres_database, sqlite_server

pytestmark = pytest.mark.anyio
ALL_EVENTS = ["chat.started", "chat.picked_up", "chat.transferred", "chat.ended", "chat.missed", "request.created",
              "request.updated", "note.created", "rating.created"]
RETRY = 0.3  # DESKCHAT_OUTBOX_RETRY_SECONDS here: retries after about 0.3 s, 1.8 s, 7.2 s, ...


@dataclass
class Mailing:
    """deskchat processes with email and webhooks on, the SMTP server and the webhook receiver they use."""

    servers: list[Server]
    smtp: MailServer
    hooks: Receiver


def outbox_env(smtp: MailServer, **extra: str) -> dict[str, str]:
    return {**smtp.env(), "DESKCHAT_WEBHOOK_ALLOW_PRIVATE": "true", "DESKCHAT_OUTBOX_RETRY_SECONDS": str(RETRY),
            "DESKCHAT_OUTBOX_POLL_SECONDS": "0.2", "DESKCHAT_OUTBOX_LEASE_SECONDS": "11", **extra}


@contextlib.contextmanager
def mailing(backend: str) -> Iterator[Mailing]:
    with MailServer() as smtp, Receiver() as hooks:
        if backend == "sqlite":
            with sqlite_server(outbox_env(smtp)) as server:
                yield Mailing([server], smtp, hooks)
            return
        with postgres_database() as url, RedisServer() as redis:
            env = outbox_env(smtp, DESKCHAT_REDIS_URL=redis.url)
            with Server(url, env=env) as first, Server(url, env=env) as second:
                yield Mailing([first, second], smtp, hooks)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def out(request: pytest.FixtureRequest) -> Iterator[Mailing]:
    with mailing(request.param) as built:
        yield built


@pytest.fixture
async def desk(out: Mailing) -> AsyncIterator[Desk]:
    async with open_desk(out.servers[0]) as built:
        yield built


async def add_webhook(desk: Desk, url: str, events: list[str]) -> dict[str, Any]:
    hook: dict[str, Any] = await desk.admin.ok("POST", "/webhooks", 201, json={"url": url, "events": events,
                                                                            "description": "ITSM bridge"})
    assert hook["secret"].startswith("whsec_") and hook["events"] == events
    return hook


def verified(hook: dict[str, Any], received: Received) -> dict[str, Any]:
    """The body, after standardwebhooks checked its signature."""
    payload: dict[str, Any] = Verifier(hook["secret"]).verify(received.body, received.headers)
    return payload


def events_of(hooks: Receiver, hook: dict[str, Any], event: str, data_id: int | None = None) -> list[Received]:
    """Successful deliveries of ``event`` (about object ``data_id``) to this endpoint's path."""
    def match(r: Received) -> bool:
        if not r.path.endswith(f"/{hook['id']}") or r.status >= 300:
            return False
        body = json.loads(r.body)
        return bool(body["type"] == event and (data_id is None or body["data"].get("id") == data_id))
    with hooks.lock:
        return [r for r in hooks.received if match(r)]


async def wait_event(hooks: Receiver, hook: dict[str, Any], event: str, data_id: int | None = None,
                     timeout: float = 20.0) -> Received:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := events_of(hooks, hook, event, data_id)):
        assert asyncio.get_running_loop().time() < deadline, f"no {event} for {data_id}"
        await asyncio.sleep(0.05)
    return found[0]


async def test_every_event_reaches_the_webhook_signed_and_the_missed_chat_notice_is_mailed(
        out: Mailing, desk: Desk) -> None:
    hook = await add_webhook(desk, f"{out.hooks.url}/{unique('all')}", ALL_EVENTS)
    hook_id_path = f"{out.hooks.url}/{hook['id']}"
    hook = await desk.admin.ok("PATCH", f"/webhooks/{hook['id']}", json={"url": hook_id_path})
    group, other = await desk.group(), await desk.group()
    # a chat nobody picks up: missed after 10 s (the shortest timeout), while the rest goes on
    await desk.admin.ok("PATCH", "/settings", json={"missed_chat_conversion": True, "missed_chat_timeout_seconds": 10})
    try:
        missed_group = await desk.group()
        lonely = (await desk.api().ok("POST", "/chats", 201, json={
            "group_id": missed_group["id"], "name": "Lone <b>Ranger</b>", "email": "lone@example.com",
            "message": "Anyone there?"}))["chat"]
        _, owner_api, _ = await desk.technician([group["id"]])
        colleague, colleague_api, _ = await desk.technician([other["id"]])
        chat, visitor = await desk.start_chat(group["id"], "Laptop fan is loud")
        await owner_api.ok("POST", f"/chats/{chat['id']}/pickup")
        request = await owner_api.ok("POST", f"/chats/{chat['id']}/request", 201, json={})
        await owner_api.ok("POST", f"/chats/{chat['id']}/notes", 201, json={"body": "Ordered a new fan"})
        await owner_api.ok("PATCH", f"/requests/{request['id']}", json={"status": "resolved"})
        await owner_api.ok("POST", f"/chats/{chat['id']}/transfer", json={"technician_id": colleague["id"]})
        await colleague_api.ok("POST", f"/chats/{chat['id']}/end")
        await visitor.ok("POST", f"/chats/{chat['id']}/rating", 201, json={"score": 5})
        expected = {"chat.started": chat["id"], "chat.picked_up": chat["id"], "request.created": request["id"],
                    "request.updated": request["id"], "chat.transferred": chat["id"], "chat.ended": chat["id"],
                    "rating.created": chat["id"], "note.created": None}
        await wait_event(out.hooks, hook, "note.created")
        for event, data_id in expected.items():
            body = verified(hook, await wait_event(out.hooks, hook, event, data_id))
            assert body["type"] == event and body["timestamp"]
        rating = json.loads((await wait_event(out.hooks, hook, "rating.created", chat["id"])).body)
        assert rating["data"]["rating"] == {"score": 5, "comment": None}
        updated = json.loads((await wait_event(out.hooks, hook, "request.updated", request["id"])).body)
        assert updated["data"]["status"] == "resolved"
        notes = [json.loads(r.body)["data"]["body"] for r in events_of(out.hooks, hook, "note.created")]
        assert "Ordered a new fan" in notes  # and the transcript note added at the end of a converted chat
        assert any(n.startswith("Chat transcript:") for n in notes)
        # the missed chat: its webhook, the request it became, and the requester's email naming it
        missed = json.loads((await wait_event(out.hooks, hook, "chat.missed", lonely["id"], timeout=30)).body)
        request_id = missed["data"]["request_id"]
        await wait_event(out.hooks, hook, "request.created", request_id)
        notice = out.smtp.wait_for(lambda m: m["To"] == "lone@example.com")[0]
        assert f"#{request_id}" in notice["Subject"] and f"#{request_id}" in body_of(notice)
        assert "Lone &lt;b&gt;Ranger&lt;/b&gt;" in body_of(notice, "html")
        assert notice["From"] == "desk@example.com"
    finally:
        await desk.admin.ok("PATCH", "/settings", json={"missed_chat_conversion": False})
    deliveries = (await desk.admin.ok("GET", f"/webhooks/{hook['id']}/deliveries"))["items"]
    assert {d["event"] for d in deliveries} >= set(ALL_EVENTS)
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in deliveries)


async def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_webhook_id(
        out: Mailing, desk: Desk) -> None:
    hook = await add_webhook(desk, out.hooks.url, ["chat.started"])
    hook = await desk.admin.ok("PATCH", f"/webhooks/{hook['id']}", json={"url": f"{out.hooks.url}/{hook['id']}"})
    group = await desk.group()
    with out.hooks.lock:
        out.hooks.answers_for[f"/hooks/{hook['id']}"] = [500, 500]
    chat, _ = await desk.start_chat(group["id"], "Retry me")
    tries = out.hooks.wait_for(lambda r: r.path.endswith(f"/{hook['id']}"), count=3, timeout=20)
    assert [t.status for t in tries] == [500, 500, 200]
    assert len({t.headers["webhook-id"] for t in tries}) == 1
    assert all(verified(hook, t)["data"]["id"] == chat["id"] for t in tries)
    delivery = (await desk.admin.ok("GET", f"/webhooks/{hook['id']}/deliveries"))["items"][0]
    assert delivery["event_id"] == tries[0].headers["webhook-id"]

    async def settled() -> dict[str, Any]:
        for _ in range(50):
            found: dict[str, Any] = (await desk.admin.ok("GET", f"/webhooks/{hook['id']}/deliveries"))["items"][0]
            if found["status"] == "delivered":
                return found
            await asyncio.sleep(0.1)
        return found
    assert {k: v for k, v in (await settled()).items() if k in ("status", "attempts", "last_status_code")} == {
        "status": "delivered", "attempts": 3, "last_status_code": 200}


async def test_the_test_event_button_and_the_deliveries_list(out: Mailing, desk: Desk) -> None:
    hook = await add_webhook(desk, out.hooks.url, ["note.created"])
    hook = await desk.admin.ok("PATCH", f"/webhooks/{hook['id']}", json={"url": f"{out.hooks.url}/{hook['id']}"})
    sent = await desk.admin.ok("POST", f"/webhooks/{hook['id']}/test", 202)
    got = out.hooks.wait_for(lambda r: r.headers.get("webhook-id") == sent["event_id"])[0]
    assert verified(hook, got)["type"] == "webhook.test"
    assert (await desk.admin.ok("GET", f"/webhooks/{hook['id']}"))["secret"] == hook["secret"]
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]], online=False)
    assert_problem(await tech_api.request("GET", "/webhooks"), 403, "forbidden")
    assert_problem(await desk.admin.request("POST", "/webhooks", json={"url": out.hooks.url, "events": []}),
                   422, "validation_error")
    assert_problem(await desk.admin.request("POST", "/webhooks", json={"url": out.hooks.url, "events": ["chat.x"]}),
                   422, "validation_error")
    assert_problem(await desk.admin.request("POST", "/webhooks", json={"url": "ftp://x.example/", "events":
                                                                        ["chat.started"]}), 422, "validation_error")
    await desk.admin.ok("DELETE", f"/webhooks/{hook['id']}", 204)
    assert_problem(await desk.admin.request("GET", f"/webhooks/{hook['id']}"), 404, "not_found")


async def test_the_forward_address_gets_one_mail_per_new_request_and_transcripts_go_to_the_requester(
        out: Mailing, desk: Desk) -> None:
    itsm = f"{unique('itsm')}@itsm.example.com"
    assert (await desk.admin.ok("PATCH", "/settings", json={"request_forward_email": itsm}))[
        "request_forward_email"] == itsm
    try:
        group = await desk.group()
        left = await desk.api().ok("POST", "/portal/offline-messages", 201, json={
            "group_id": group["id"], "name": "Ivy", "email": "ivy@example.com",
            "message": "Printer <script>alert(1)</script> jams\nOn floor 2."})
        _, tech_api, _ = await desk.technician([group["id"]])
        chat, visitor = await desk.start_chat(group["id"], "Monitor flickers")
        await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
        converted = await tech_api.ok("POST", f"/chats/{chat['id']}/request", 201, json={"subject": "Flicker"})
        mails = out.smtp.wait_for(lambda m: m["To"] == itsm, count=2)
        by_subject = {m["Subject"]: m for m in mails}
        first = by_subject[f"[deskchat #{left['request_id']}] Printer <script>alert(1)</script> jams"]
        assert first["Reply-To"] == "ivy@example.com"
        assert "&lt;script&gt;" in body_of(first, "html") and "<script>" not in body_of(first, "html")
        assert "On floor 2." in body_of(first)
        assert f"[deskchat #{converted['id']}] Flicker" in by_subject
        # the transcript, on request of the requester, during the chat
        await visitor.ok("POST", f"/chats/{chat['id']}/transcript-email", 202)
        transcript = out.smtp.wait_for(lambda m: f"chat {chat['id']}" in m["Subject"])[0]
        assert transcript["To"] == "erin@example.com" and "Monitor flickers" in body_of(transcript)
        await asyncio.sleep(1.0)  # nothing arrives twice
        assert len(out.smtp.mails(lambda m: m["To"] == itsm)) == 2
    finally:
        await desk.admin.ok("PATCH", "/settings", json={"request_forward_email": None})


async def test_with_smtp_down_nothing_is_lost(out: Mailing, desk: Desk) -> None:
    group = await desk.group()
    chat, visitor = await desk.start_chat(group["id"], "Mail while the server is down")
    out.smtp.stop()
    try:
        await visitor.ok("POST", f"/chats/{chat['id']}/transcript-email", 202)
        await asyncio.sleep(1.0)  # the first attempts fail: connection refused
    finally:
        out.smtp.start()
    mails = out.smtp.wait_for(lambda m: f"chat {chat['id']}" in m["Subject"], timeout=30)
    await asyncio.sleep(1.0)
    assert len(out.smtp.mails(lambda m: f"chat {chat['id']}" in m["Subject"])) == len(mails) == 1


async def test_killed_right_after_a_request_is_created_the_mail_and_webhook_still_arrive_once(
        out: Mailing, desk: Desk) -> None:
    itsm = f"{unique('crash')}@itsm.example.com"
    await desk.admin.ok("PATCH", "/settings", json={"request_forward_email": itsm})
    hook = await add_webhook(desk, out.hooks.url, ["request.created"])
    hook = await desk.admin.ok("PATCH", f"/webhooks/{hook['id']}", json={"url": f"{out.hooks.url}/{hook['id']}"})
    group = await desk.group()
    victim = out.servers[0]
    out.smtp.stop()  # the first attempts fail, so the deliveries are still pending when the process dies
    with out.hooks.lock:
        out.hooks.answers[:] = [503] * 3
    try:
        left = await Api(victim.url).ok("POST", "/portal/offline-messages", 201, json={
            "group_id": group["id"], "name": "Kim", "email": "kim@example.com", "message": "Kill -9 me"})
        victim.kill()
        out.smtp.start()
        victim.start()
        subject = f"[deskchat #{left['request_id']}] Kill -9 me"
        out.smtp.wait_for(lambda m: m["Subject"] == subject, timeout=40)
        await wait_event(out.hooks, hook, "request.created", left["request_id"], timeout=40)
        await asyncio.sleep(2.0)  # time for any second copy to show up
        assert len(out.smtp.mails(lambda m: m["Subject"] == subject)) == 1
        assert len(events_of(out.hooks, hook, "request.created", left["request_id"])) == 1
    finally:
        with out.hooks.lock:
            out.hooks.answers.clear()
        await desk.admin.ok("PATCH", "/settings", json={"request_forward_email": None})


async def test_metrics_show_the_outbox(out: Mailing) -> None:
    async with httpx.AsyncClient() as client:
        text = (await client.get(out.servers[0].url + "/metrics")).text
    for name in ("deskchat_outbox_pending", "deskchat_outbox_oldest_pending_seconds",
                 "deskchat_outbox_deliveries_total"):
        assert name in text


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://169.254.169.254/latest",
                                 "http://[::1]/x", "http://localhost/x", "https://192.168.1.10/x",
                                 "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x"])
async def test_private_and_loopback_targets_are_refused_by_default(server_desk: Desk, url: str) -> None:
    response = await server_desk.admin.request("POST", "/webhooks", json={"url": url, "events": ["chat.started"]})
    assert "url" in assert_problem(response, 422, "validation_error")["errors"]


async def test_a_public_address_is_accepted_and_email_off_is_409(server_desk: Desk) -> None:
    hook = await server_desk.admin.ok("POST", "/webhooks", 201, json={"url": "https://93.184.215.14/hooks",
                                                                       "events": ["chat.ended"]})
    await server_desk.admin.ok("DELETE", f"/webhooks/{hook['id']}", 204)
    group = await server_desk.group()
    chat, visitor = await server_desk.start_chat(group["id"])
    assert_problem(await visitor.request("POST", f"/chats/{chat['id']}/transcript-email"), 409, "email_disabled")


@pytest.fixture
async def server_desk(server: Server) -> AsyncIterator[Desk]:
    """The shared servers (no email, webhooks to public addresses only)."""
    async with open_desk(server) as built:
        yield built
