"""Demo data for trying deskchat out: groups, technicians, an admin, canned messages."""

from __future__ import annotations

import contextlib

from deskchat.domain.errors import Conflict
from deskchat.domain.people import Role
from deskchat.services import admin, canned
from deskchat.services.context import Context, reading

GROUPS = [("Hardware", "Laptops, printers, peripherals"), ("Software", "Applications and licences"),
          ("Network", "VPN, Wi-Fi, email")]
TECHNICIANS = [("Alice Admin", "admin@example.com", Role.ADMIN, ["Hardware", "Software", "Network"]),
               ("Tom Tech", "tom@example.com", Role.TECHNICIAN, ["Hardware", "Software"]),
               ("Nina Network", "nina@example.com", Role.TECHNICIAN, ["Network"]),
               ("Sam Software", "sam@example.com", Role.TECHNICIAN, ["Software"])]
CANNED = [
    ("Greeting", "Hello {{requester.name}}, this is {{technician.name}} from {{group.name}}. How can I help?",
     "greet", "Greetings"),
    ("Restart first", "Could you restart the computer and tell me if the problem is still there?", "restart",
     "Troubleshooting"),
    ("VPN guide", "Our VPN guide is at https://intranet.example.com/vpn - follow steps 1 to 3.", "vpn",
     "Network"),
    ("Closing", "Glad I could help, {{requester.name}}! Your reference is chat #{{chat.id}}.", "bye",
     "Greetings"),
]


async def seed(ctx: Context, password: str) -> list[str]:
    """Create what is missing of the demo data; return the login lines."""
    group_ids: dict[str, int] = {}
    listed = await admin.list_groups(ctx)
    group_ids = {g["name"]: g["id"] for g in listed["items"]}
    for name, description in GROUPS:
        if name not in group_ids:
            group_ids[name] = (await admin.create_group(ctx, None, name, description))["id"]
    lines = []
    for name, email, role, groups in TECHNICIANS:
        with contextlib.suppress(Conflict):  # already there from an earlier run
            await admin.create_technician(ctx, None, name=name, email=email, password=password, role=role.value,
                                          group_ids=[group_ids[g] for g in groups])
        lines.append(f"{role.value:<10} {email:<22} {name} ({', '.join(groups)})")
    async with reading(ctx) as repos:
        owner = await repos.people.technician_by_email("admin@example.com")
    assert owner is not None
    existing = {c["shortcut"] for c in (await canned.list_canned_for(ctx, owner))}
    for title, body, shortcut, category in CANNED:
        if shortcut not in existing:
            await canned.create_canned(ctx, None, {"title": title, "body": body, "shortcut": shortcut,
                                                   "category": category, "scope": "global"}, owner=owner)
    return lines
