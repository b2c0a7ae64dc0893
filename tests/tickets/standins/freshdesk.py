"""Freshdesk API v2, as documented at developers.freshdesk.com/api/: tickets (create: a requester
and `subject`/`description` required, `status` 2..5, `priority` 1..4; view; update), notes,
conversations, ticket search (`query` in double quotes, strings in single quotes, custom fields
`cf_*`), agents/me, agents and contacts; basic auth with the API key and `X`; errors as
`{"description": "Validation failed", "errors": [{"field", "message", "code"}]}`, 401
`invalid_credentials`, 404 with an empty body, 429 with Retry-After."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from . import Comment, StandIn, StandInTicket

API_KEY = "fd-key-abc"
ME = 50
AGENTS = {"Alice Agent": 51}
CONTACTS = {"Carl Customer": 70}
REQUESTER = "noc@hosting.test"


def stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + f".{time.monotonic_ns() % 10**9}"


class Freshdesk(StandIn):
    name = "freshdesk"

    def authorized(self, request: web.Request) -> bool:
        return (
            request.headers.get("Authorization")
            == "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
        )

    def unauthorized(self) -> web.StreamResponse:
        return web.json_response(
            {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."},
            status=401,
        )

    def throttled(self) -> web.StreamResponse:
        return web.json_response(
            {"message": "You have exceeded the limit of requests per hour"},
            status=429,
            headers={"Retry-After": self.retry_after},
        )

    def config(self, secrets_dir: Path) -> dict[str, Any]:
        (secrets_dir / "fd.key").write_text(API_KEY)
        return {"url": self.url, "api_key_file": str(secrets_dir / "fd.key"), "requester": REQUESTER}

    def wrong_auth(self, cfg: dict[str, Any]) -> dict[str, Any]:
        Path(cfg["api_key_file"]).write_text("wrong")
        return cfg

    def is_closed(self, t: StandInTicket) -> bool:
        return t.status in (4, 5)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v2/agents/me", self.me),
            web.get("/api/v2/agents/{id}", self.agent),
            web.get("/api/v2/contacts/{id}", self.contact),
            web.get("/api/v2/search/tickets", self.search),
            web.post("/api/v2/tickets", self.create),
            web.get("/api/v2/tickets/{id}", self.view),
            web.put("/api/v2/tickets/{id}", self.update),
            web.post("/api/v2/tickets/{id}/notes", self.note),
            web.get("/api/v2/tickets/{id}/conversations", self.conversations),
        ]

    @staticmethod
    def invalid(field: str, message: str, code: str = "invalid_value") -> web.Response:
        return web.json_response(
            {
                "description": "Validation failed",
                "errors": [{"field": field, "message": message, "code": code}],
            },
            status=400,
        )

    def doc(self, t: StandInTicket) -> dict[str, Any]:
        return {
            "id": t.id,
            "subject": t.subject,
            "description": t.body,
            "description_text": t.body,
            "status": t.status,
            "priority": t.priority,
            "responder_id": AGENTS.get(t.owner or ""),
            "custom_fields": {"cf_watchd_key": t.key},
            "updated_at": t.fields.get("updated_at", stamp()),
            "created_at": stamp(),
            "requester_id": 1,
        }

    def found(self, request: web.Request) -> StandInTicket | None:
        ident = request.match_info["id"]
        return self.tickets.get(int(ident)) if ident.isdigit() else None

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response({"id": ME, "contact": {"name": "watchd", "email": "watchd@hosting.test"}})

    async def agent(self, request: web.Request) -> web.Response:
        name = {v: k for k, v in AGENTS.items()}.get(int(request.match_info["id"]))
        return (
            web.json_response({"id": int(request.match_info["id"]), "contact": {"name": name}})
            if name
            else web.Response(status=404)
        )

    async def contact(self, request: web.Request) -> web.Response:
        name = {v: k for k, v in CONTACTS.items()}.get(int(request.match_info["id"]))
        return (
            web.json_response({"id": int(request.match_info["id"]), "name": name})
            if name
            else web.Response(status=404)
        )

    async def search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        m = re.fullmatch(r"\"(cf_[a-z0-9_]+):'([^']*)'\"", query)
        if not m:
            self.violation(f"search: query {query!r} is not \"field:'value'\" in double quotes")
            return self.invalid("query", "It should be a valid query string", "invalid_value")
        hits = [self.doc(t) for t in self.tickets.values() if t.key == m.group(2)]
        return web.json_response({"results": hits, "total": len(hits)})

    async def create(self, request: web.Request) -> web.Response:
        doc = await request.json()
        if not isinstance(doc, dict):
            return self.invalid("body", "must be an object")
        if not any(
            doc.get(k) for k in ("requester_id", "email", "phone", "twitter_id", "unique_external_id")
        ):
            self.violation(
                "create: no requester (requester_id, email, phone, twitter_id or unique_external_id)"
            )
            return self.invalid(
                "requester_id", "Please fill at least 1 of requester_id, email... fields", "missing_field"
            )
        for key in ("subject", "description"):
            if not doc.get(key):
                self.violation(f"create: {key} missing")
                return self.invalid(key, "It should not be blank", "missing_field")
        if doc.get("status", 2) not in (2, 3, 4, 5) or doc.get("priority", 1) not in (1, 2, 3, 4):
            self.violation(f"create: status/priority {doc.get('status')}/{doc.get('priority')}")
            return self.invalid("status", "It should be one of these values: '2,3,4,5'")
        key = (doc.get("custom_fields") or {}).get("cf_watchd_key", "")
        t = self.new_ticket(
            key, doc["subject"], self.text(doc["description"]), doc.get("priority", 1), doc.get("status", 2)
        )
        t.comments.append(Comment(0, "watchd", t.body, time.time()))
        return web.json_response(self.doc(t), status=201)

    @staticmethod
    def text(body: str) -> str:
        """body_text as Freshdesk derives it from the HTML."""
        import html

        return html.unescape(re.sub(r"<br\s*/?>", "\n", body).replace("<div>", "").replace("</div>", ""))

    async def view(self, request: web.Request) -> web.Response:
        t = self.found(request)
        return web.json_response(self.doc(t)) if t else web.Response(status=404)

    async def update(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return web.Response(status=404)
        doc = await request.json()
        if not isinstance(doc, dict) or not doc:
            self.violation("update: empty body")
            return self.invalid("body", "nothing to update")
        if "status" in doc:
            if doc["status"] not in (2, 3, 4, 5):
                self.violation(f"update: status {doc['status']!r}")
                return self.invalid("status", "It should be one of these values: '2,3,4,5'")
            t.status = doc["status"]
            t.fields["updated_at"] = stamp()
        if "priority" in doc:
            if doc["priority"] not in (1, 2, 3, 4):
                self.violation(f"update: priority {doc['priority']!r}")
                return self.invalid("priority", "It should be one of these values: '1,2,3,4'")
            t.priority = doc["priority"]
        return web.json_response(self.doc(t))

    async def note(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return web.Response(status=404)
        doc = await request.json()
        if not isinstance(doc, dict) or not doc.get("body"):
            self.violation("note: body missing")
            return self.invalid("body", "It should not be blank", "missing_field")
        c = Comment(
            next(self.event_ids), "watchd", self.text(doc["body"]), time.time(), not doc.get("private", True)
        )
        t.comments.append(c)
        return web.json_response(
            {
                "id": c.id,
                "body": doc["body"],
                "body_text": c.text,
                "private": not c.public,
                "user_id": ME,
                "ticket_id": t.id,
            },
            status=201,
        )

    async def conversations(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return web.Response(status=404)
        out = []
        for c in t.comments[1:]:  # the description is not a conversation
            uid = ME if c.author == "watchd" else CONTACTS.get(c.author) or AGENTS.get(c.author)
            out.append(
                {
                    "id": c.id,
                    "body": c.text,
                    "body_text": c.text,
                    "incoming": c.customer,
                    "private": not c.public,
                    "user_id": uid,
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c.at)),
                }
            )
        return web.json_response(out)

    def take(self, ref: str, who: str) -> None:
        self.ticket(ref).owner = who

    def reply(self, ref: str, who: str, text: str) -> None:
        self.ticket(ref).comments.append(Comment(next(self.event_ids), who, text, time.time(), True, True))

    def close(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.status = 4
        t.fields["updated_at"] = stamp()
