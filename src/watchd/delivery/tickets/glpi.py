"""GLPI (REST API, `apirest.php`, GLPI 9.5/10): one ticket per incident, found by the ticket's
`externalid` field.

Documented means used (GLPI's `apirest.md`, served by every instance at `/apirest.php/`):
- Auth: `GET /initSession` with `Authorization: user_token <token>` (and `App-Token` when the API
  client requires one) answers a `session_token`, sent as `Session-Token` afterwards. An expired
  session (401 `ERROR_SESSION_TOKEN_INVALID`) is opened again once.
- `GET /Ticket?searchText[externalid]=<key>` (a LIKE filter; hits are checked for the exact key,
  tickets in the trash are skipped); `POST /Ticket` with `externalid`; `POST /Ticket/{id}/ITILFollowup`
  (private follow-ups ending with the `[watchd op N]` marker, looked for in
  `GET /Ticket/{id}/ITILFollowup` before a retry writes); `PUT /Ticket/{id}` for status (5 solved,
  2 processing) and priority (1..6).
- Errors are `["ERROR_CODE", "message"]`.
- Two-way (state read): an assigned technician (`Ticket_User` type 2) is `taken`, status solved or
  closed is `closed`, follow-ups by other users are `reply`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.httpcall import JsonApi, Reply
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

PRIORITIES = {"P1": 5, "P2": 4, "P3": 3, "P4": 2}  # GLPI: 6 major, 5 very high, 4 high, 3 medium, 2 low
SOLVED, CLOSED, PROCESSING = 5, 6, 2
ASSIGNED = 2  # Ticket_User.type


class GlpiBackend(KeyedBackend):
    name = "glpi"
    label = "GLPI"

    def __init__(
        self,
        url: str,
        user_token: str,
        *,
        app_token: str | None = None,
        entity_id: int | None = None,
        two_way: TwoWay | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.user_token = user_token
        self.entity_id = entity_id
        self.two_way = two_way or TwoWay()
        headers = {"App-Token": app_token} if app_token else {}
        self.api = JsonApi(self.url, "GLPI", headers, timeout=timeout)
        self._session: str | None = None
        self._me: int | None = None
        self._names: dict[int, str] = {}

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> GlpiBackend:
        o = Options(params, base_dir)
        url = o.required("url")
        if not url.startswith(("http://", "https://")) or not url.rstrip("/").endswith("apirest.php"):
            raise ParamError("url", f"expected the API's URL, ending in /apirest.php, got {url!r}")
        token = o.secret("user_token", required=True)
        assert token is not None
        app_token = o.secret("app_token", required=False)
        entity = o.integer("entity_id", -1, low=0, high=10**9)
        two_way = o.two_way(poll=True, push=True)
        timeout = o.number("timeout", 10.0, low=0.5, high=300.0)
        o.done()
        return cls(
            url,
            token,
            app_token=app_token,
            entity_id=None if entity < 0 else entity,
            two_way=two_way,
            timeout=timeout,
        )

    async def _open_session(self) -> None:
        reply = await self.api.request(
            "GET",
            "/initSession",
            what="initSession",
            headers={"Authorization": f"user_token {self.user_token}"},
            allow=(400, 401),
        )
        if reply.status != 200 or not isinstance(reply.body, Mapping) or "session_token" not in reply.body:
            raise DeliveryError(f"GLPI refused the session: {reply.body}", retryable=False)
        self._session = str(reply.body["session_token"])

    async def _call(
        self, method: str, path: str, *, what: str, allow: tuple[int, ...] = (), **kw: Any
    ) -> Reply:
        """One call with the session token; an expired session is opened again once."""
        if self._session is None:
            await self._open_session()
        for attempt in (1, 2):
            reply = await self.api.request(
                method,
                path,
                what=what,
                headers={"Session-Token": str(self._session)},
                allow=(*allow, 401),
                **kw,
            )
            if reply.status != 401:
                return reply
            if attempt == 1 and isinstance(reply.body, list) and "ERROR_SESSION_TOKEN_INVALID" in reply.body:
                await self._open_session()
                continue
            raise DeliveryError(f"GLPI {what}: 401 {reply.body}", retryable=False)
        raise AssertionError("unreachable")

    async def ready(self) -> None:
        if self._me is None:
            reply = await self._call("GET", "/getFullSession", what="session")
            session = reply.body.get("session") if isinstance(reply.body, Mapping) else None
            if not isinstance(session, Mapping) or "glpiID" not in session:
                raise DeliveryError(f"GLPI getFullSession answered {str(reply.body)[:200]}", False)
            self._me = int(session["glpiID"])

    @staticmethod
    def _ticket(doc: Mapping[str, Any]) -> Ticket:
        return Ticket(str(doc["id"]), (as_int(doc.get("status")) or 1) < SOLVED, None, doc)

    async def get(self, ref: str) -> Ticket | None:
        reply = await self._call("GET", f"/Ticket/{ref}", what=f"ticket {ref}", allow=(404,))
        if reply.status == 404 or not isinstance(reply.body, Mapping) or reply.body.get("is_deleted"):
            return None
        return self._ticket(reply.body)

    async def find(self, key: str) -> Ticket | None:
        reply = await self._call(
            "GET",
            "/Ticket",
            what="ticket search",
            params={"searchText[externalid]": key, "range": "0-49", "sort": "id", "order": "ASC"},
        )
        items = [
            i
            for i in (reply.body if isinstance(reply.body, list) else [])
            if isinstance(i, Mapping) and "id" in i
        ]
        items = sorted((i for i in items if not i.get("is_deleted")), key=lambda i: int(i["id"]))
        hit = oldest(items, lambda i: i.get("externalid"), key, "glpi")
        return self._ticket(hit) if hit is not None else None

    async def _followups(self, ref: str) -> list[Mapping[str, Any]]:
        reply = await self._call("GET", f"/Ticket/{ref}/ITILFollowup", what=f"follow-ups of {ref}")
        return [f for f in reply.body if isinstance(f, Mapping)] if isinstance(reply.body, list) else []

    async def applied(self, ticket: Ticket, op_id: int) -> bool:
        return has_marker([str(f.get("content") or "") for f in await self._followups(ticket.id)], op_id)

    async def create(self, intent: TicketIntent) -> str:
        doc: dict[str, Any] = {
            "name": intent.subject,
            "content": marked_text(intent),
            "type": 1,
            "externalid": intent.key,
            "priority": PRIORITIES[intent.priority],
            "urgency": PRIORITIES[intent.priority],
            "impact": PRIORITIES[intent.priority],
        }
        if self.entity_id is not None:
            doc["entities_id"] = self.entity_id
        reply = await self._call("POST", "/Ticket", what="create ticket", json={"input": doc})
        if not isinstance(reply.body, Mapping) or not reply.body.get("id"):
            raise DeliveryError(f"GLPI created no ticket: {str(reply.body)[:200]}", False)
        log.info("glpi ticket created", key=intent.key, ticket=reply.body["id"], op_id=intent.op_id)
        return str(reply.body["id"])

    async def comment(self, ticket: Ticket, intent: TicketIntent, status: Status | None) -> None:
        doc = {
            "itemtype": "Ticket",
            "items_id": int(ticket.id),
            "content": marked_text(intent),
            "is_private": 1,
        }
        await self._call(
            "POST", f"/Ticket/{ticket.id}/ITILFollowup", what=f"follow-up on {ticket.id}", json={"input": doc}
        )
        if status is not None:
            await self.set_status(ticket, status)

    async def set_status(self, ticket: Ticket, status: Status) -> None:
        if ticket.active == (status == "resolve"):
            await self._put(ticket, {"status": SOLVED if status == "resolve" else PROCESSING})

    async def set_priority(self, ticket: Ticket, priority: str) -> None:
        if as_int((ticket.raw or {}).get("priority")) != PRIORITIES[priority]:
            await self._put(ticket, {"priority": PRIORITIES[priority]})

    async def _put(self, ticket: Ticket, fields: dict[str, Any]) -> None:
        reply = await self._call(
            "PUT", f"/Ticket/{ticket.id}", what=f"ticket {ticket.id}", json={"input": fields}
        )
        result = reply.body[0] if isinstance(reply.body, list) and reply.body else {}
        if isinstance(result, Mapping) and result.get(ticket.id) is False:
            raise DeliveryError(f"GLPI did not update ticket {ticket.id}: {result.get('message')}", False)

    async def _name(self, user_id: int) -> str:
        if user_id not in self._names:
            reply = await self._call("GET", f"/User/{user_id}", what=f"user {user_id}", allow=(404,))
            doc = reply.body if isinstance(reply.body, Mapping) else {}
            full = " ".join(str(doc.get(k) or "") for k in ("firstname", "realname")).strip()
            self._names[user_id] = full or str(doc.get("name") or f"user {user_id}")
        return self._names[user_id]

    async def changes(self, ref: str, since: str | None) -> list[TicketChange]:
        await self.ready()
        ticket = await self.get(ref)
        if ticket is None:
            return []
        doc = ticket.raw
        actors = await self._call("GET", f"/Ticket/{ref}/Ticket_User", what=f"actors of {ref}")
        assigned = (
            [a for a in actors.body if isinstance(a, Mapping) and as_int(a.get("type")) == ASSIGNED]
            if isinstance(actors.body, list)
            else []
        )
        owner = await self._name(int(assigned[0]["users_id"])) if assigned else None
        replies = []
        for f in await self._followups(ref):
            author = as_int(f.get("users_id")) or 0
            if author != self._me:
                replies.append(
                    (
                        int(f["id"]),
                        await self._name(author),
                        str(f.get("content") or ""),
                        epoch(f.get("date_creation")),
                    )
                )
        stamp = None if ticket.active else str(doc.get("date_mod") or "closed")
        closer = await self._name(as_int(doc.get("users_id_lastupdater")) or 0) if stamp else ""
        return state_changes(since, owner, stamp, closer, replies, epoch(doc.get("date_mod")))

    async def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(DeliveryError):  # the session times out anyway
                await self.api.request(
                    "GET",
                    "/killSession",
                    what="killSession",
                    headers={"Session-Token": self._session},
                    allow=(400, 401),
                )
            self._session = None
        await self.api.close()
