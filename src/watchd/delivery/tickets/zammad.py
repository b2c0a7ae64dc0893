"""Zammad (REST API v1): one ticket per incident, found by a custom ticket attribute (default
`watchd_key`, created in Admin > Objects > Ticket as a text field).

Documented means used (docs.zammad.org, API > Ticket / Ticket Article / Users):
- Auth: `Authorization: Token token=<access token>` (a token with ticket.agent permission).
- `GET /api/v1/tickets/search?query=watchd_key:"<key>"&expand=true`, hits checked for the exact
  key. Zammad's search is backed by Elasticsearch, which indexes a new ticket within about a
  second: a retry within that time after a crash that lost the create's answer could open a
  second ticket (the outbox's first retry waits `base_backoff`, 2 s).
- `POST /api/v1/tickets` with the attribute and a first internal `note` article;
  `PUT /api/v1/tickets/{id}` with `state` and an `article` in one update (the article ends with the
  `[watchd op N]` marker; a retry reads `GET /api/v1/ticket_articles/by_ticket/{id}` first).
- Two-way (state read): an owner other than "-" (user 1) is `taken`, a state of type closed is
  `closed`, articles by anyone but watchd's user are `reply`.
"""

from __future__ import annotations

import re
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

PRIORITIES = {"P1": 3, "P2": 3, "P3": 2, "P4": 1}  # Zammad's "1 low", "2 normal", "3 high"
CLOSED = frozenset({"closed", "merged", "removed"})
NOBODY = 1  # Zammad's "-" user: no owner
_ATTRIBUTE = re.compile(r"^[a-z][a-z0-9_]*$")


class ZammadBackend(KeyedBackend):
    name = "zammad"
    label = "Zammad"

    def __init__(
        self,
        url: str,
        token: str,
        group: str,
        customer: str,
        *,
        key_attribute: str = "watchd_key",
        resolved_state: str = "closed",
        two_way: TwoWay | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.group = group
        self.customer = customer
        self.key_attribute = key_attribute
        self.resolved_state = resolved_state
        self.two_way = two_way or TwoWay()
        self.api = JsonApi(self.url, "Zammad", {"Authorization": f"Token token={token}"}, timeout=timeout)
        self._me: int | None = None
        self._names: dict[int, str] = {}

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> ZammadBackend:
        o = Options(params, base_dir)
        url = o.required("url")
        if not url.startswith(("http://", "https://")):
            raise ParamError("url", f"expected an http:// or https:// URL, got {url!r}")
        token = o.secret("token", required=True)
        assert token is not None
        group = o.required("group")
        customer = o.required("customer")
        attribute = o.text("key_attribute", "watchd_key") or "watchd_key"
        if not _ATTRIBUTE.match(attribute):
            raise ParamError(
                "key_attribute", f"expected a Zammad attribute name (a-z, 0-9, _), got {attribute!r}"
            )
        resolved = o.text("resolved_state", "closed") or "closed"
        two_way = o.two_way(poll=True, push=True)
        timeout = o.number("timeout", 10.0, low=0.5, high=300.0)
        o.done()
        return cls(
            url,
            token,
            group,
            customer,
            key_attribute=attribute,
            resolved_state=resolved,
            two_way=two_way,
            timeout=timeout,
        )

    async def ready(self) -> None:
        if self._me is None:
            reply = await self.api.request("GET", "/api/v1/users/me", what="current user")
            if not isinstance(reply.body, Mapping) or "id" not in reply.body:
                raise DeliveryError(f"Zammad /users/me answered {str(reply.body)[:200]}", False)
            self._me = int(reply.body["id"])

    def _ticket(self, doc: Mapping[str, Any]) -> Ticket:
        state = str(doc.get("state") or "")
        return Ticket(str(doc["id"]), state not in CLOSED and state != self.resolved_state, None, doc)

    async def get(self, ref: str) -> Ticket | None:
        reply = await self.api.request(
            "GET", f"/api/v1/tickets/{ref}", what=f"ticket {ref}", params={"expand": "true"}, allow=(404,)
        )
        if reply.status == 404 or not isinstance(reply.body, Mapping):
            return None
        return self._ticket(reply.body)

    async def find(self, key: str) -> Ticket | None:
        params = {
            "query": f'{self.key_attribute}:"{key}"',
            "expand": "true",
            "limit": "20",
            "sort_by": "id",
            "order_by": "asc",
        }
        reply = await self.api.request("GET", "/api/v1/tickets/search", what="ticket search", params=params)
        items = reply.body if isinstance(reply.body, list) else []
        items = sorted((i for i in items if isinstance(i, Mapping) and "id" in i), key=lambda i: int(i["id"]))
        hit = oldest(items, lambda i: i.get(self.key_attribute), key, "zammad")
        return self._ticket(hit) if hit is not None else None

    async def _articles(self, ref: str) -> list[Mapping[str, Any]]:
        reply = await self.api.request(
            "GET", f"/api/v1/ticket_articles/by_ticket/{ref}", what=f"articles of {ref}"
        )
        return [a for a in reply.body if isinstance(a, Mapping)] if isinstance(reply.body, list) else []

    async def applied(self, ticket: Ticket, op_id: int) -> bool:
        return has_marker([str(a.get("body") or "") for a in await self._articles(ticket.id)], op_id)

    @staticmethod
    def _note(intent: TicketIntent) -> dict[str, Any]:
        return {
            "subject": intent.subject,
            "body": marked_text(intent),
            "type": "note",
            "internal": True,
            "content_type": "text/plain",
        }

    async def create(self, intent: TicketIntent) -> str:
        doc = {
            "title": intent.subject,
            "group": self.group,
            "customer_id": f"guess:{self.customer}",
            "priority_id": PRIORITIES[intent.priority],
            "state": "new",
            self.key_attribute: intent.key,
            "article": self._note(intent),
        }
        reply = await self.api.request("POST", "/api/v1/tickets", what="create ticket", json=doc)
        if not isinstance(reply.body, Mapping) or "id" not in reply.body:
            raise DeliveryError(f"Zammad created no ticket: {str(reply.body)[:200]}", False)
        if reply.body.get(self.key_attribute) != intent.key:
            raise DeliveryError(
                f"Zammad ticket {reply.body['id']} was created without the {self.key_attribute!r} attribute: "
                "create it in Admin > Objects > Ticket, or retries could open duplicates",
                False,
            )
        log.info("zammad ticket created", key=intent.key, ticket=reply.body["id"], op_id=intent.op_id)
        return str(reply.body["id"])

    async def comment(self, ticket: Ticket, intent: TicketIntent, status: Status | None) -> None:
        doc: dict[str, Any] = {"article": self._note(intent)}
        if status is not None:
            doc["state"] = self.resolved_state if status == "resolve" else "open"
        await self.api.request("PUT", f"/api/v1/tickets/{ticket.id}", what=f"ticket {ticket.id}", json=doc)

    async def set_status(self, ticket: Ticket, status: Status) -> None:
        if ticket.active == (status == "resolve"):
            state = self.resolved_state if status == "resolve" else "open"
            await self.api.request(
                "PUT", f"/api/v1/tickets/{ticket.id}", what=f"ticket {ticket.id}", json={"state": state}
            )

    async def set_priority(self, ticket: Ticket, priority: str) -> None:
        if as_int((ticket.raw or {}).get("priority_id")) != PRIORITIES[priority]:
            await self.api.request(
                "PUT",
                f"/api/v1/tickets/{ticket.id}",
                what=f"ticket {ticket.id}",
                json={"priority_id": PRIORITIES[priority]},
            )

    async def _name(self, user_id: int) -> str:
        if user_id not in self._names:
            reply = await self.api.request(
                "GET", f"/api/v1/users/{user_id}", what=f"user {user_id}", allow=(404,)
            )
            doc = reply.body if isinstance(reply.body, Mapping) else {}
            name = " ".join(str(doc.get(k) or "") for k in ("firstname", "lastname")).strip()
            self._names[user_id] = name or str(doc.get("login") or f"user {user_id}")
        return self._names[user_id]

    async def changes(self, ref: str, since: str | None) -> list[TicketChange]:
        await self.ready()
        ticket = await self.get(ref)
        if ticket is None:
            return []
        doc = ticket.raw
        owner_id = as_int(doc.get("owner_id")) or NOBODY
        owner = await self._name(owner_id) if owner_id != NOBODY else None
        replies = []
        for a in await self._articles(ref):
            author = as_int(a.get("created_by_id")) or 0
            if author == self._me:
                continue
            replies.append(
                (int(a["id"]), await self._name(author), str(a.get("body") or ""), epoch(a.get("created_at")))
            )
        stamp = None if ticket.active else str(doc.get("updated_at") or "closed")
        closer = await self._name(as_int(doc.get("updated_by_id")) or 0) if stamp else ""
        return state_changes(since, owner, stamp, closer, replies, epoch(doc.get("updated_at")))

    async def close(self) -> None:
        await self.api.close()
