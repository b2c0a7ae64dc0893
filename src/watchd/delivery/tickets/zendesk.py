"""Zendesk Support (API v2): one ticket per incident, found by `external_id`.

Documented means used (developer.zendesk.com, Ticketing API):
- Auth: HTTP basic `{email}/token:{api_token}`.
- `GET /api/v2/tickets.json?external_id=<key>` lists tickets by external id from the database
  (not the search index, which lags): a retry after a crash finds the ticket it created.
- `POST /api/v2/tickets.json` with `external_id`, the first comment private (`public: false`), an
  `Idempotency-Key` header (Zendesk answers a repeat with the first result).
- `PUT /api/v2/tickets/{id}.json` with `comment` and `status` in one update; every comment ends
  with the `[watchd op N]` marker and a retry looks for it among the newest comments first.
- A `closed` ticket is archived and cannot be updated: a reopen then creates a follow-up ticket
  (`via_followup_source_id`).
- 429 with `Retry-After`: the outbox waits that long.
- Two-way: the ticket's audits after the cursor (an audit id): an `assignee_id` change is `taken`,
  a change to `solved`/`closed` is `closed`, a comment by someone else is `reply`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.httpcall import JsonApi
from watchd.delivery.tickets import TicketChange, TicketIntent, TwoWay
from watchd.delivery.tickets.keyed import KeyedBackend, Status, Ticket, as_int, epoch, log
from watchd.delivery.tickets.render import Options, has_marker, marked_text

PRIORITIES = {"P1": "urgent", "P2": "high", "P3": "normal", "P4": "low"}
INACTIVE = frozenset({"solved", "closed"})


class ZendeskBackend(KeyedBackend):
    name = "zendesk"
    label = "Zendesk"

    def __init__(
        self,
        url: str,
        email: str,
        api_token: str,
        *,
        group_id: int | None = None,
        tags: tuple[str, ...] = ("watchd",),
        two_way: TwoWay | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.group_id = group_id
        self.tags = tags
        self.two_way = two_way or TwoWay()
        basic = base64.b64encode(f"{email}/token:{api_token}".encode()).decode("ascii")
        self.api = JsonApi(self.url, "Zendesk", {"Authorization": f"Basic {basic}"}, timeout=timeout)
        self._me: int | None = None

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> ZendeskBackend:
        o = Options(params, base_dir)
        url = o.required("url")
        if not url.startswith(("http://", "https://")):
            raise ParamError("url", f"expected https://<subdomain>.zendesk.com, got {url!r}")
        email = o.required("email")
        token = o.secret("api_token", required=True)
        assert token is not None
        group = o.integer("group_id", 0, low=1, high=2**53) or None
        tags = o.text_list("tags") or ("watchd",)
        two_way = o.two_way(poll=True, push=True)
        timeout = o.number("timeout", 10.0, low=0.5, high=300.0)
        o.done()
        return cls(url, email, token, group_id=group, tags=tags, two_way=two_way, timeout=timeout)

    async def ready(self) -> None:
        if self._me is not None:
            return
        reply = await self.api.request("GET", "/api/v2/users/me.json", what="current user")
        user = reply.body.get("user") if isinstance(reply.body, dict) else None
        if not isinstance(user, dict) or user.get("id") is None:
            raise DeliveryError(
                "Zendesk answered /users/me as an anonymous user: check email and token", False
            )
        self._me = int(user["id"])

    @staticmethod
    def _ticket(doc: Mapping[str, Any]) -> Ticket:
        return Ticket(str(doc["id"]), str(doc.get("status")) not in INACTIVE, None, doc)

    def reopenable(self, ticket: Ticket) -> bool:
        return (ticket.raw or {}).get("status") != "closed"

    async def get(self, ref: str) -> Ticket | None:
        reply = await self.api.request(
            "GET", f"/api/v2/tickets/{ref}.json", what=f"ticket {ref}", allow=(404,)
        )
        if reply.status == 404:
            return None
        return self._ticket(_doc(reply.body, "ticket"))

    async def find(self, key: str) -> Ticket | None:
        reply = await self.api.request(
            "GET", "/api/v2/tickets.json", what="tickets by external id", params={"external_id": key}
        )
        hits = [t for t in _list(reply.body, "tickets") if t.get("external_id") == key]
        if not hits:
            return None
        hits.sort(key=lambda t: (t.get("status") == "closed", int(t["id"])))  # a follow-up before its archive
        return self._ticket(hits[0])

    async def applied(self, ticket: Ticket, op_id: int) -> bool:
        reply = await self.api.request(
            "GET",
            f"/api/v2/tickets/{ticket.id}/comments.json",
            what=f"comments of {ticket.id}",
            params={"sort_order": "desc"},
        )
        return has_marker([str(c.get("body") or "") for c in _list(reply.body, "comments")], op_id)

    async def create(self, intent: TicketIntent) -> str:
        doc: dict[str, Any] = {
            "subject": intent.subject,
            "comment": {"body": marked_text(intent), "public": False},
            "priority": PRIORITIES[intent.priority],
            "external_id": intent.key,
            "tags": list(self.tags),
            "type": "incident",
        }
        if self.group_id:
            doc["group_id"] = self.group_id
        if intent.kind == "reopen":
            old = await self.find(intent.key)
            if old is not None:
                doc["via_followup_source_id"] = int(old.id)
        reply = await self.api.request(
            "POST",
            "/api/v2/tickets.json",
            what="create ticket",
            json={"ticket": doc},
            headers={"Idempotency-Key": f"{intent.key}:{intent.op_id}"},
        )
        created = _doc(reply.body, "ticket")
        log.info("zendesk ticket created", key=intent.key, ticket=created["id"], op_id=intent.op_id)
        return str(created["id"])

    async def comment(self, ticket: Ticket, intent: TicketIntent, status: Status | None) -> None:
        doc: dict[str, Any] = {"comment": {"body": marked_text(intent), "public": False}}
        if status is not None:
            doc["status"] = "solved" if status == "resolve" else "open"
        await self.api.request(
            "PUT", f"/api/v2/tickets/{ticket.id}.json", what=f"ticket {ticket.id}", json={"ticket": doc}
        )

    async def set_status(self, ticket: Ticket, status: Status) -> None:
        if ticket.active == (status == "resolve"):
            doc = {"status": "solved" if status == "resolve" else "open"}
            await self.api.request(
                "PUT", f"/api/v2/tickets/{ticket.id}.json", what=f"ticket {ticket.id}", json={"ticket": doc}
            )

    async def set_priority(self, ticket: Ticket, priority: str) -> None:
        if (ticket.raw or {}).get("priority") != PRIORITIES[priority]:
            await self.api.request(
                "PUT",
                f"/api/v2/tickets/{ticket.id}.json",
                what=f"ticket {ticket.id}",
                json={"ticket": {"priority": PRIORITIES[priority]}},
            )

    async def changes(self, ref: str, since: str | None) -> list[TicketChange]:
        await self.ready()
        reply = await self.api.request(
            "GET",
            f"/api/v2/tickets/{ref}/audits.json",
            what=f"audits of {ref}",
            params={"include": "users"},
            allow=(404,),
        )
        if reply.status == 404:
            return []
        names = {u.get("id"): str(u.get("name")) for u in _list(reply.body, "users", optional=True)}
        after = as_int(since) or 0
        out: list[TicketChange] = []
        for audit in sorted(_list(reply.body, "audits"), key=lambda a: int(a["id"])):
            aid = int(audit["id"])
            author = audit.get("author_id")
            if aid <= after or author == self._me:
                continue
            who = names.get(author, f"user {author}")
            at = epoch(audit.get("created_at"))
            for n, ev in enumerate(audit.get("events") or []):
                cid, cursor = f"a{aid}.{n}", str(aid)
                if ev.get("type") == "Change" and ev.get("field_name") == "assignee_id" and ev.get("value"):
                    taker = names.get(as_int(ev["value"]), who)
                    out.append(TicketChange("taken", cid, taker, "", at, cursor))
                elif (
                    ev.get("type") == "Change"
                    and ev.get("field_name") == "status"
                    and ev.get("value") in INACTIVE
                ):
                    out.append(TicketChange("closed", cid, who, "", at, cursor))
                elif ev.get("type") == "Comment":
                    out.append(TicketChange("reply", cid, who, str(ev.get("body") or ""), at, cursor))
        return out

    async def close(self) -> None:
        await self.api.close()


def _doc(body: Any, name: str) -> Mapping[str, Any]:
    doc = body.get(name) if isinstance(body, Mapping) else None
    if not isinstance(doc, Mapping) or "id" not in doc:
        raise DeliveryError(f"Zendesk answered without a {name}: {str(body)[:200]}", False)
    return doc


def _list(body: Any, name: str, optional: bool = False) -> list[Mapping[str, Any]]:
    items = body.get(name) if isinstance(body, Mapping) else None
    if items is None and optional:
        return []
    if not isinstance(items, list):
        raise DeliveryError(f"Zendesk answered without {name!r}: {str(body)[:200]}", False)
    return [i for i in items if isinstance(i, Mapping)]
