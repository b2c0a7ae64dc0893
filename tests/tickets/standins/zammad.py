"""Zammad REST API v1, as documented at docs.zammad.org (API: Introduction, Ticket, Ticket Article,
User): `Authorization: Token token=...`; tickets create (`title`, `group`, `customer_id` with the
documented `guess:<email>`, `article` required), show and update (`state`, `article`), search
(`query`, `expand=true` answers a list of tickets with names), articles by ticket, users/me and
users; custom attributes are ticket fields; errors as `{"error": ..., "error_human": ...}` (401,
404 "Couldn't find Ticket", 422)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from . import Comment, StandIn, StandInTicket, require

TOKEN = "zm-token-xyz"
ME = 3
USERS = {ME: ("watchd", "Bot"), 4: ("Alice", "Agent"), 5: ("Carl", "Customer")}
IDS = {"Alice Agent": 4, "Carl Customer": 5}
STATES = {"new", "open", "pending reminder", "pending close", "closed", "merged"}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.monotonic_ns() % 1000000:06d}Z"


class Zammad(StandIn):
    name = "zammad"

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Token token={TOKEN}"

    def unauthorized(self) -> web.StreamResponse:
        return web.json_response({"error": "Authentication required"}, status=401)

    def config(self, secrets_dir: Path) -> dict[str, Any]:
        (secrets_dir / "zammad.token").write_text(TOKEN)
        return {
            "url": self.url,
            "token_file": str(secrets_dir / "zammad.token"),
            "group": "Hosting",
            "customer": "noc@hosting.test",
        }

    def wrong_auth(self, cfg: dict[str, Any]) -> dict[str, Any]:
        Path(cfg["token_file"]).write_text("wrong")
        return cfg

    def is_closed(self, t: StandInTicket) -> bool:
        return t.status in ("closed", "merged")

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v1/users/me", self.me),
            web.get("/api/v1/users/{id}", self.user),
            web.get("/api/v1/tickets/search", self.search),
            web.post("/api/v1/tickets", self.create),
            web.get("/api/v1/tickets/{id}", self.show),
            web.put("/api/v1/tickets/{id}", self.update),
            web.get("/api/v1/ticket_articles/by_ticket/{id}", self.articles),
        ]

    def doc(self, t: StandInTicket, expand: bool) -> dict[str, Any]:
        d = {
            "id": t.id,
            "title": t.subject,
            "group_id": 1,
            "priority_id": t.priority,
            "owner_id": IDS.get(t.owner or "", 1),
            "watchd_key": t.key,
            "updated_at": t.fields.get("updated_at", now_iso()),
            "updated_by_id": t.fields.get("updated_by_id", ME),
            "state_id": sorted(STATES).index(t.status) + 1,
        }
        if expand:
            d["state"] = t.status
        return d

    @staticmethod
    def not_found(ident: str) -> web.Response:
        return web.json_response(
            {"error": f"Couldn't find Ticket with 'id'={ident}", "error_human": "No such ticket"}, status=404
        )

    @staticmethod
    def unprocessable(text: str) -> web.Response:
        return web.json_response({"error": text, "error_human": text}, status=422)

    def found(self, request: web.Request) -> StandInTicket | None:
        ident = request.match_info["id"]
        return self.tickets.get(int(ident)) if ident.isdigit() else None

    def article(self, t: StandInTicket, article: Any, where: str) -> web.Response | None:
        if not require(self, where + " article", article, "body"):
            return self.unprocessable("Need at least article: { body: '...' }")
        if article.get("type", "note") not in ("note", "email", "phone", "web"):
            self.violation(f"{where}: article type {article.get('type')!r}")
        if article.get("content_type", "text/plain") not in ("text/plain", "text/html"):
            self.violation(f"{where}: article content_type {article.get('content_type')!r}")
        t.comments.append(
            Comment(next(self.event_ids), "watchd", article["body"], time.time(), not article.get("internal"))
        )
        return None

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response({"id": ME, "login": "watchd", "firstname": "watchd", "lastname": "Bot"})

    async def user(self, request: web.Request) -> web.Response:
        uid = int(request.match_info["id"])
        if uid not in USERS:
            return web.json_response({"error": f"Couldn't find User with 'id'={uid}"}, status=404)
        first, last = USERS[uid]
        return web.json_response({"id": uid, "firstname": first, "lastname": last, "login": first.lower()})

    async def search(self, request: web.Request) -> web.Response:
        query = request.query.get("query")
        if not query:
            self.violation("search: query missing")
            return self.unprocessable("query missing")
        m = re.fullmatch(r'watchd_key:"([^"]*)"', query)
        hits = [t for t in self.tickets.values() if m and t.key == m.group(1)]
        if request.query.get("expand") == "true":
            return web.json_response([self.doc(t, True) for t in hits])
        return web.json_response({"tickets": [t.id for t in hits], "tickets_count": len(hits)})

    async def create(self, request: web.Request) -> web.Response:
        doc = await request.json()
        if not require(self, "POST /api/v1/tickets", doc, "title", "group", "customer_id", "article"):
            return self.unprocessable("Need title, group, customer and article")
        if not str(doc["customer_id"]).startswith("guess:") and not str(doc["customer_id"]).isdigit():
            self.violation(f"create: customer_id {doc['customer_id']!r} (an id or guess:<email>)")
        if doc.get("state", "new") not in STATES or doc.get("priority_id", 2) not in (1, 2, 3):
            self.violation("create: unknown state or priority_id")
            return self.unprocessable("No lookup value found for 'state'")
        t = self.new_ticket(
            str(doc.get("watchd_key") or ""),
            doc["title"],
            doc["article"].get("body", ""),
            doc.get("priority_id", 2),
            doc.get("state", "new"),
        )
        if (bad := self.article(t, doc["article"], "create")) is not None:
            return bad
        return web.json_response(self.doc(t, False), status=201)

    async def show(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.not_found(request.match_info["id"])
        return web.json_response(self.doc(t, request.query.get("expand") == "true"))

    async def update(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.not_found(request.match_info["id"])
        doc = await request.json()
        if not isinstance(doc, dict) or not doc:
            self.violation("update: empty body")
            return self.unprocessable("nothing to update")
        if "state" in doc:
            if doc["state"] not in STATES:
                self.violation(f"update: state {doc['state']!r}")
                return self.unprocessable("No lookup value found for 'state'")
            t.status = doc["state"]
            t.fields.update(updated_at=now_iso(), updated_by_id=ME)
        if "priority_id" in doc:
            t.priority = doc["priority_id"]
        if "article" in doc and (bad := self.article(t, doc["article"], "update")) is not None:
            return bad
        return web.json_response(self.doc(t, False))

    async def articles(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.not_found(request.match_info["id"])
        return web.json_response(
            [
                {
                    "id": c.id,
                    "ticket_id": t.id,
                    "body": c.text,
                    "type": "note",
                    "internal": not c.public,
                    "created_by_id": IDS.get(c.author, ME),
                    "sender": "Customer" if c.customer else "Agent",
                    "created_at": now_iso(),
                }
                for c in t.comments
            ]
        )

    def take(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.owner, t.status = who, "open"

    def reply(self, ref: str, who: str, text: str) -> None:
        self.ticket(ref).comments.append(Comment(next(self.event_ids), who, text, time.time(), True, True))

    def close(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.status = "closed"
        t.fields.update(updated_at=now_iso(), updated_by_id=IDS[who])
