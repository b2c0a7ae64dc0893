"""Freshdesk (API v2): one ticket per incident, found by a custom text field (default
`cf_watchd_key`).

Documented means used (developers.freshdesk.com/api/):
- Auth: HTTP basic with the API key as user name and `X` as password.
- `GET /api/v2/search/tickets?query="cf_watchd_key:'<key>'"` (custom single-line text fields are
  searchable); hits are checked for the exact key. Freshdesk's search is an index that lags the
  database by a few seconds: a retry within that time after a crash that lost the create's answer
  could open a second ticket. The outbox's first retry waits `base_backoff` (2 s), and a second
  ticket would carry the same key, so `find` then keeps using the oldest.
- `POST /api/v2/tickets` (a requester `email` is required), `POST /api/v2/tickets/{id}/notes`
  (private notes) ending with the `[watchd op N]` marker, `PUT /api/v2/tickets/{id}` for status
  (2 open, 4 resolved, 5 closed) and priority (1 low .. 4 urgent).
- A retry reads `GET /api/v2/tickets/{id}/conversations` for the marker before adding a note.
- 429 with `Retry-After` (per-account and per-endpoint limits): the outbox waits that long.
- Two-way (state read, no audit through the API): `responder_id` set is `taken`, status 4/5 is
  `closed` (by the responder), incoming conversations (the customer's) and notes by other agents
  are `reply`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from typing import Any

from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.httpcall import JsonApi
from watchd.delivery.tickets import TicketChange, TicketIntent, TwoWay
from watchd.delivery.tickets.keyed import (
    KeyedBackend,
    Status,
    Ticket,
    as_int,
    epoch,
    log,
    oldest,
    state_changes,
)
from watchd.delivery.tickets.render import Options, has_marker, marked_text

PRIORITIES = {"P1": 4, "P2": 3, "P3": 2, "P4": 1}
OPEN, RESOLVED, CLOSED = 2, 4, 5


def as_html(text: str) -> str:
    return "<div>" + html.escape(text).replace("\n", "<br>") + "</div>"


class FreshdeskBackend(KeyedBackend):
    name = "freshdesk"
    label = "Freshdesk"

    def __init__(
        self,
        url: str,
        api_key: str,
        requester: str,
        *,
        key_field: str = "cf_watchd_key",
        group_id: int | None = None,
        two_way: TwoWay | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.requester = requester
        self.key_field = key_field
        self.group_id = group_id
        self.two_way = two_way or TwoWay()
        basic = base64.b64encode(f"{api_key}:X".encode()).decode("ascii")
        self.api = JsonApi(self.url, "Freshdesk", {"Authorization": f"Basic {basic}"}, timeout=timeout)
        self._me: int | None = None
        self._names: dict[int, str] = {}

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> FreshdeskBackend:
        o = Options(params, base_dir)
        url = o.required("url")
        if not url.startswith(("http://", "https://")):
            raise ParamError("url", f"expected https://<domain>.freshdesk.com, got {url!r}")
        key = o.secret("api_key", required=True)
        assert key is not None
        requester = o.required("requester")
        field = o.text("key_field", "cf_watchd_key") or "cf_watchd_key"
        if not field.startswith("cf_") or not field.replace("_", "").isalnum():
            raise ParamError(
                "key_field", f"expected a custom field name such as cf_watchd_key, got {field!r}"
            )
        group = o.integer("group_id", 0, low=1, high=2**53) or None
        two_way = o.two_way(poll=True, push=True)
        timeout = o.number("timeout", 10.0, low=0.5, high=300.0)
        o.done()
        return cls(url, key, requester, key_field=field, group_id=group, two_way=two_way, timeout=timeout)

    async def ready(self) -> None:
        if self._me is not None:
            return
        reply = await self.api.request("GET", "/api/v2/agents/me", what="current agent")
        if not isinstance(reply.body, Mapping) or "id" not in reply.body:
            raise DeliveryError(f"Freshdesk /agents/me answered {str(reply.body)[:200]}", False)
        self._me = int(reply.body["id"])

    @staticmethod
    def _ticket(doc: Mapping[str, Any]) -> Ticket:
        return Ticket(str(doc["id"]), as_int(doc.get("status")) not in (RESOLVED, CLOSED), None, doc)

    async def get(self, ref: str) -> Ticket | None:
        reply = await self.api.request("GET", f"/api/v2/tickets/{ref}", what=f"ticket {ref}", allow=(404,))
        if reply.status == 404 or not isinstance(reply.body, Mapping) or reply.body.get("deleted"):
            return None
        return self._ticket(reply.body)

    async def find(self, key: str) -> Ticket | None:
        query = f"\"{self.key_field}:'{key}'\""
        reply = await self.api.request(
            "GET", "/api/v2/search/tickets", what="ticket search", params={"query": query}
        )
        results = reply.body.get("results") if isinstance(reply.body, Mapping) else None
        if not isinstance(results, list):
            raise DeliveryError(f"Freshdesk search answered {str(reply.body)[:200]}", False)
        items = sorted((r for r in results if isinstance(r, Mapping)), key=lambda r: int(r["id"]))
        hit = oldest(items, lambda r: (r.get("custom_fields") or {}).get(self.key_field), key, "freshdesk")
        return self._ticket(hit) if hit is not None else None

    async def _conversations(self, ref: str) -> list[Mapping[str, Any]]:
        reply = await self.api.request(
            "GET",
            f"/api/v2/tickets/{ref}/conversations",
            what=f"conversations of {ref}",
            params={"per_page": "100"},
        )
        return [c for c in reply.body if isinstance(c, Mapping)] if isinstance(reply.body, list) else []

    async def applied(self, ticket: Ticket, op_id: int) -> bool:
        convs = await self._conversations(ticket.id)
        return has_marker([str(c.get("body_text") or "") for c in convs], op_id)

    async def create(self, intent: TicketIntent) -> str:
        doc: dict[str, Any] = {
            "subject": intent.subject,
            "description": as_html(marked_text(intent)),
            "email": self.requester,
            "priority": PRIORITIES[intent.priority],
            "status": OPEN,
            "tags": ["watchd"],
            "custom_fields": {self.key_field: intent.key},
        }
        if self.group_id:
            doc["group_id"] = self.group_id
        reply = await self.api.request("POST", "/api/v2/tickets", what="create ticket", json=doc)
        if not isinstance(reply.body, Mapping) or "id" not in reply.body:
            raise DeliveryError(f"Freshdesk created no ticket: {str(reply.body)[:200]}", False)
        log.info("freshdesk ticket created", key=intent.key, ticket=reply.body["id"], op_id=intent.op_id)
        return str(reply.body["id"])

    async def comment(self, ticket: Ticket, intent: TicketIntent, status: Status | None) -> None:
        await self.api.request(
            "POST",
            f"/api/v2/tickets/{ticket.id}/notes",
            what=f"note on {ticket.id}",
            json={"body": as_html(marked_text(intent)), "private": True},
        )
        if status is not None:
            await self.set_status(ticket, status)

    async def set_status(self, ticket: Ticket, status: Status) -> None:
        if ticket.active == (status == "resolve"):
            await self.api.request(
                "PUT",
                f"/api/v2/tickets/{ticket.id}",
                what=f"ticket {ticket.id}",
                json={"status": RESOLVED if status == "resolve" else OPEN},
            )

    async def set_priority(self, ticket: Ticket, priority: str) -> None:
        if as_int((ticket.raw or {}).get("priority")) != PRIORITIES[priority]:
            await self.api.request(
                "PUT",
                f"/api/v2/tickets/{ticket.id}",
                what=f"ticket {ticket.id}",
                json={"priority": PRIORITIES[priority]},
            )

    async def _name(self, user_id: int, customer: bool = False) -> str:
        """An agent's (or, for incoming mail, a contact's) name; cached."""
        if user_id not in self._names:
            path = f"/api/v2/contacts/{user_id}" if customer else f"/api/v2/agents/{user_id}"
            reply = await self.api.request("GET", path, what=f"user {user_id}", allow=(404,))
            doc = reply.body if isinstance(reply.body, Mapping) else {}
            name = doc.get("name") if customer else (doc.get("contact") or {}).get("name")
            self._names[user_id] = str(name or f"user {user_id}")
        return self._names[user_id]

    async def changes(self, ref: str, since: str | None) -> list[TicketChange]:
        await self.ready()
        ticket = await self.get(ref)
        if ticket is None:
            return []
        doc = ticket.raw
        responder = as_int(doc.get("responder_id"))
        owner = await self._name(responder) if responder else None
        replies = []
        for c in await self._conversations(ref):
            if as_int(c.get("user_id")) == self._me:
                continue
            who = await self._name(as_int(c.get("user_id")) or 0, customer=bool(c.get("incoming")))
            replies.append((int(c["id"]), who, str(c.get("body_text") or ""), epoch(c.get("created_at"))))
        stamp = str(doc.get("updated_at") or "closed") if not ticket.active else None
        return state_changes(since, owner, stamp, owner or "an agent", replies, epoch(doc.get("updated_at")))

    async def close(self) -> None:
        await self.api.close()
