"""Zendesk Support API v2, as documented at developer.zendesk.com/api-reference/ticketing/:
tickets (create, show, update, list by external_id), ticket comments, ticket audits (with
`include=users` side-loading), users/me, API-token basic auth (`{email}/token:{token}`),
`Idempotency-Key` on create, 422 RecordInvalid bodies, 404 RecordNotFound, 429 + Retry-After."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from . import Comment, StandIn, StandInTicket, require

EMAIL = "watchd@hosting.test"
TOKEN = "zd-token-123"
ME, PEOPLE = 9001, {"Alice Agent": 9002, "Carl Customer": 9003}
PRIORITIES = {"urgent", "high", "normal", "low"}
STATUSES = {"new", "open", "pending", "hold", "solved", "closed"}


class Zendesk(StandIn):
    name = "zendesk"

    def __init__(self) -> None:
        super().__init__()
        self.idempotency: dict[str, int] = {}
        self.audits: dict[int, list[dict[str, Any]]] = {}

    def authorized(self, request: web.Request) -> bool:
        want = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
        return request.headers.get("Authorization") == want

    def unauthorized(self) -> web.StreamResponse:
        return web.json_response({"error": "Couldn't authenticate you"}, status=401)

    def throttled(self) -> web.StreamResponse:
        return web.json_response(
            {
                "error": "APIRateLimitExceeded",
                "description": "Number of allowed API requests per minute exceeded",
            },
            status=429,
            headers={"Retry-After": self.retry_after},
        )

    def config(self, secrets_dir: Path) -> dict[str, Any]:
        (secrets_dir / "zendesk.token").write_text(TOKEN)
        return {"url": self.url, "email": EMAIL, "api_token_file": str(secrets_dir / "zendesk.token")}

    def wrong_auth(self, cfg: dict[str, Any]) -> dict[str, Any]:
        return {**cfg, "email": "nobody@hosting.test"}

    def is_closed(self, t: StandInTicket) -> bool:
        return t.status in ("solved", "closed")

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v2/users/me.json", self.me),
            web.get("/api/v2/tickets.json", self.list_tickets),
            web.post("/api/v2/tickets.json", self.create),
            web.get("/api/v2/tickets/{id}.json", self.show),
            web.put("/api/v2/tickets/{id}.json", self.update),
            web.get("/api/v2/tickets/{id}/comments.json", self.comments),
            web.get("/api/v2/tickets/{id}/audits.json", self.list_audits),
        ]

    # -- documents ----------------------------------------------------------------------------------

    @staticmethod
    def doc(t: StandInTicket) -> dict[str, Any]:
        return {
            "id": t.id,
            "subject": t.subject,
            "description": t.body,
            "priority": t.priority,
            "status": t.status,
            "external_id": t.key,
            "assignee_id": PEOPLE.get(t.owner or ""),
            "tags": t.fields.get("tags", []),
            "type": t.fields.get("type"),
        }

    def audit(self, t: StandInTicket, author: int, events: list[dict[str, Any]]) -> None:
        self.audits.setdefault(t.id, []).append(
            {
                "id": next(self.event_ids),
                "ticket_id": t.id,
                "author_id": author,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "events": events,
            }
        )

    def found(self, request: web.Request) -> StandInTicket | None:
        t = self.tickets.get(int(request.match_info["id"])) if request.match_info["id"].isdigit() else None
        return t

    @staticmethod
    def not_found() -> web.Response:
        return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)

    @staticmethod
    def invalid(field: str, text: str) -> web.Response:
        return web.json_response(
            {
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": {field: [{"description": text}]},
            },
            status=422,
        )

    # -- handlers -----------------------------------------------------------------------------------

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response({"user": {"id": ME, "name": "watchd", "role": "agent"}})

    async def list_tickets(self, request: web.Request) -> web.Response:
        key = request.query.get("external_id")
        found = [self.doc(t) for t in self.tickets.values() if key is None or t.key == key]
        return web.json_response(
            {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)}
        )

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        idem = request.headers.get("Idempotency-Key")
        if idem and idem in self.idempotency:
            t = self.tickets[self.idempotency[idem]]
            return web.json_response(
                {"ticket": self.doc(t)}, status=201, headers={"x-idempotency-lookup": "hit"}
            )
        doc = body.get("ticket") if isinstance(body, dict) else None
        if not require(self, "POST /api/v2/tickets.json", doc, "comment"):
            return self.invalid("base", "Description: cannot be blank")
        assert isinstance(doc, dict)
        if not isinstance(doc["comment"], dict) or not (
            doc["comment"].get("body") or doc["comment"].get("html_body")
        ):
            self.violation("create: comment needs body or html_body")
            return self.invalid("base", "Description: cannot be blank")
        if doc.get("priority") not in PRIORITIES | {None}:
            self.violation(f"create: priority {doc.get('priority')!r}")
            return self.invalid("priority", "is not valid")
        source = doc.get("via_followup_source_id")
        if source is not None and (source not in self.tickets or self.tickets[source].status != "closed"):
            self.violation("create: via_followup_source_id must name a closed ticket")
            return self.invalid("via_followup_source_id", "must be a closed ticket")
        t = self.new_ticket(
            str(doc.get("external_id") or ""),
            str(doc.get("subject") or ""),
            doc["comment"].get("body", ""),
            doc.get("priority"),
            "new",
            tags=doc.get("tags", []),
            type=doc.get("type"),
        )
        t.comments.append(
            Comment(
                next(self.event_ids),
                "watchd",
                doc["comment"]["body"],
                time.time(),
                bool(doc["comment"].get("public", True)),
            )
        )
        self.audit(t, ME, [{"type": "Create"}, {"type": "Comment", "body": doc["comment"]["body"]}])
        if idem:
            self.idempotency[idem] = t.id
        return web.json_response({"ticket": self.doc(t)}, status=201)

    async def show(self, request: web.Request) -> web.Response:
        t = self.found(request)
        return web.json_response({"ticket": self.doc(t)}) if t else self.not_found()

    async def update(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.not_found()
        body = await request.json()
        doc = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(doc, dict) or not doc:
            self.violation('PUT ticket: body must be {"ticket": {...}} with something to change')
            return self.invalid("base", "nothing to update")
        if t.status == "closed":
            return self.invalid("status", "Status: closed prevents ticket update")
        events: list[dict[str, Any]] = []
        if "comment" in doc:
            c = doc["comment"]
            if not isinstance(c, dict) or not c.get("body"):
                self.violation("PUT ticket: comment without body")
                return self.invalid("comment", "cannot be blank")
            t.comments.append(
                Comment(next(self.event_ids), "watchd", c["body"], time.time(), bool(c.get("public", True)))
            )
            events.append({"type": "Comment", "body": c["body"]})
        if "status" in doc:
            if doc["status"] not in STATUSES - {"closed"}:
                self.violation(f"PUT ticket: status {doc['status']!r}")
                return self.invalid("status", "is not valid")
            t.status = doc["status"]
            events.append({"type": "Change", "field_name": "status", "value": t.status})
        if "priority" in doc:
            if doc["priority"] not in PRIORITIES:
                self.violation(f"PUT ticket: priority {doc['priority']!r}")
                return self.invalid("priority", "is not valid")
            t.priority = doc["priority"]
        self.audit(t, ME, events)
        return web.json_response({"ticket": self.doc(t), "audit": {"events": events}})

    async def comments(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.not_found()
        order = request.query.get("sort_order", "asc")
        if order not in ("asc", "desc"):
            self.violation(f"comments: sort_order {order!r}")
        items = [
            {
                "id": c.id,
                "type": "Comment",
                "author_id": PEOPLE.get(c.author, ME),
                "body": c.text,
                "public": c.public,
            }
            for c in t.comments
        ]
        return web.json_response({"comments": items[::-1] if order == "desc" else items, "next_page": None})

    async def list_audits(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.not_found()
        users = [{"id": ME, "name": "watchd"}] + [{"id": i, "name": n} for n, i in PEOPLE.items()]
        return web.json_response({"audits": self.audits.get(t.id, []), "users": users, "next_page": None})

    # -- a person in Zendesk ------------------------------------------------------------------------

    def take(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.owner, t.status = who, "open"
        self.audit(
            t, PEOPLE[who], [{"type": "Change", "field_name": "assignee_id", "value": str(PEOPLE[who])}]
        )

    def reply(self, ref: str, who: str, text: str) -> None:
        t = self.ticket(ref)
        t.comments.append(Comment(next(self.event_ids), who, text, time.time(), True, True))
        self.audit(t, PEOPLE[who], [{"type": "Comment", "body": text, "public": True}])

    def close(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.status = "solved"
        self.audit(t, PEOPLE[who], [{"type": "Change", "field_name": "status", "value": "solved"}])

    def archive(self, ref: str) -> None:
        self.ticket(ref).status = "closed"
