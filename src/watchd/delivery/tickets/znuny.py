"""Znuny / OTRS (GenericInterface, the `GenericTicketConnectorREST` web service): one ticket per
incident, found by a ticket dynamic field (default `WatchdKey`, a text field).

Documented means used (Znuny's GenericInterface manual and the connector's operations):
- The web service's REST routes as in Znuny's shipped `GenericTicketConnectorREST.yml`:
  `POST /Ticket` (TicketCreate), `GET /Ticket/:TicketID` (TicketGet), `PATCH /Ticket/:TicketID`
  (TicketUpdate), plus one route to add, `POST /TicketSearch` (TicketSearch), because a dynamic
  field condition (`DynamicField_WatchdKey: {Equals: ...}`) is a nested structure that a query
  string cannot carry. `url` is the web service's base,
  `https://host/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST`.
- Auth: `UserLogin` and `Password` of an agent in every request (query string for GET).
- Errors come back as HTTP 200 with `{"Error": {"ErrorCode": "TicketCreate.MissingParameter",
  "ErrorMessage": ...}}`: every answer is checked for it (`*.AuthFail` and the rest are permanent).
- TicketUpdate adds the note (an internal article ending with the `[watchd op N]` marker) and
  sets the state in one call; a retry reads the articles (`AllArticles=1`) first.
- Two-way (state read): a ticket locked by another agent is `taken` by its owner, a state of type
  closed is `closed`, articles without the marker are `reply` (customer mails included).
"""

from __future__ import annotations

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

PRIORITIES = {"P1": "5 very high", "P2": "4 high", "P3": "3 normal", "P4": "2 low"}
CLOSED_TYPES = frozenset({"closed", "removed", "merged"})
MARKER = "[watchd op "


class ZnunyBackend(KeyedBackend):
    name = "znuny"
    label = "Znuny"

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        queue: str,
        customer: str,
        *,
        key_field: str = "WatchdKey",
        resolved_state: str = "closed successful",
        reopen_state: str = "open",
        two_way: TwoWay | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.user = user
        self.password = password
        self.queue = queue
        self.customer = customer
        self.key_field = key_field
        self.resolved_state = resolved_state
        self.reopen_state = reopen_state
        self.two_way = two_way or TwoWay()
        self.api = JsonApi(self.url, "Znuny", {}, timeout=timeout)

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> ZnunyBackend:
        o = Options(params, base_dir)
        url = o.required("url")
        if not url.startswith(("http://", "https://")) or "/Webservice/" not in url:
            raise ParamError(
                "url",
                f"expected the web service URL (.../nph-genericinterface.pl/Webservice/NAME), got {url!r}",
            )
        user = o.required("username")
        password = o.secret("password", required=True)
        assert password is not None
        backend = cls(
            url,
            user,
            password,
            o.required("queue"),
            o.required("customer"),
            key_field=o.text("key_field", "WatchdKey") or "WatchdKey",
            resolved_state=o.text("resolved_state", "closed successful") or "closed successful",
            reopen_state=o.text("reopen_state", "open") or "open",
            two_way=o.two_way(poll=True, push=True),
            timeout=o.number("timeout", 10.0, low=0.5, high=300.0),
        )
        o.done()
        if not backend.key_field.isalnum():
            raise ParamError(
                "key_field", f"dynamic field names are letters and digits, got {backend.key_field!r}"
            )
        return backend

    def _auth(self) -> dict[str, str]:
        return {"UserLogin": self.user, "Password": self.password}

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        if method == "GET":
            reply: Reply = await self.api.request(
                method, path, what=what, params={**self._auth(), **(params or {})}
            )
        else:
            reply = await self.api.request(method, path, what=what, json={**self._auth(), **(body or {})})
        doc = reply.body
        error = doc.get("Error") if isinstance(doc, Mapping) else None
        if isinstance(error, Mapping):
            code = str(error.get("ErrorCode") or "")
            raise DeliveryError(f"Znuny {what}: {code}: {error.get('ErrorMessage')}", retryable=False)
        if not isinstance(doc, Mapping):
            raise DeliveryError(
                f"Znuny {what}: answered {str(doc)[:200]} (is url the web service's base?)", False
            )
        return doc

    def _ticket(self, doc: Mapping[str, Any]) -> Ticket:
        return Ticket(str(doc["TicketID"]), str(doc.get("StateType")) not in CLOSED_TYPES, None, doc)

    async def get(self, ref: str) -> Ticket | None:
        try:
            doc = await self._call(
                "GET", f"/Ticket/{ref}", f"ticket {ref}", params={"DynamicFields": "1", "AllArticles": "1"}
            )
        except DeliveryError as exc:
            if "TicketGet.AccessDenied" in exc.reason or "TicketGet.NotValid" in exc.reason:
                return None  # no such ticket (Znuny does not tell it apart from one we may not see)
            raise
        tickets = doc.get("Ticket")
        return self._ticket(tickets[0]) if isinstance(tickets, list) and tickets else None

    async def find(self, key: str) -> Ticket | None:
        doc = await self._call(
            "POST",
            "/TicketSearch",
            "ticket search",
            {f"DynamicField_{self.key_field}": {"Equals": key}, "SortBy": "Age", "OrderBy": "Down"},
        )
        ids = sorted(int(i) for i in doc.get("TicketID") or [] if str(i).isdigit())
        for tid in ids[:20]:
            ticket = await self.get(str(tid))
            if ticket is not None and oldest([ticket.raw], self._key_of, key, "znuny") is not None:
                return ticket
        return None

    def _key_of(self, doc: Mapping[str, Any]) -> str | None:
        for df in doc.get("DynamicField") or []:
            if isinstance(df, Mapping) and df.get("Name") == self.key_field:
                return str(df.get("Value")) if df.get("Value") is not None else None
        return None

    async def applied(self, ticket: Ticket, op_id: int) -> bool:
        return has_marker([str(a.get("Body") or "") for a in (ticket.raw or {}).get("Article") or []], op_id)

    def _article(self, intent: TicketIntent) -> dict[str, Any]:
        return {
            "CommunicationChannel": "Internal",
            "IsVisibleForCustomer": 0,
            "SenderType": "agent",
            "Subject": intent.subject,
            "Body": marked_text(intent),
            "ContentType": "text/plain; charset=utf8",
        }

    async def create(self, intent: TicketIntent) -> str:
        doc = await self._call(
            "POST",
            "/Ticket",
            "create ticket",
            {
                "Ticket": {
                    "Title": intent.subject,
                    "Queue": self.queue,
                    "State": "new",
                    "Priority": PRIORITIES[intent.priority],
                    "CustomerUser": self.customer,
                },
                "Article": self._article(intent),
                "DynamicField": [{"Name": self.key_field, "Value": intent.key}],
            },
        )
        if not doc.get("TicketID"):
            raise DeliveryError(f"Znuny created no ticket: {str(doc)[:200]}", False)
        log.info("znuny ticket created", key=intent.key, ticket=doc["TicketID"], op_id=intent.op_id)
        return str(doc["TicketID"])

    async def comment(self, ticket: Ticket, intent: TicketIntent, status: Status | None) -> None:
        body: dict[str, Any] = {"Article": self._article(intent)}
        if status is not None:
            body["Ticket"] = {"State": self.resolved_state if status == "resolve" else self.reopen_state}
        await self._call("PATCH", f"/Ticket/{ticket.id}", f"ticket {ticket.id}", body)

    async def set_status(self, ticket: Ticket, status: Status) -> None:
        if ticket.active == (status == "resolve"):
            state = self.resolved_state if status == "resolve" else self.reopen_state
            await self._call(
                "PATCH", f"/Ticket/{ticket.id}", f"ticket {ticket.id}", {"Ticket": {"State": state}}
            )

    async def set_priority(self, ticket: Ticket, priority: str) -> None:
        if (ticket.raw or {}).get("Priority") != PRIORITIES[priority]:
            await self._call(
                "PATCH",
                f"/Ticket/{ticket.id}",
                f"ticket {ticket.id}",
                {"Ticket": {"Priority": PRIORITIES[priority]}},
            )

    async def changes(self, ref: str, since: str | None) -> list[TicketChange]:
        if not ref.isdigit():
            return []
        ticket = await self.get(ref)
        if ticket is None:
            return []
        doc = ticket.raw
        owner = str(doc.get("Owner") or "")
        taken = owner if doc.get("Lock") == "lock" and owner and owner != self.user else None
        replies = []
        for a in doc.get("Article") or []:
            body = str(a.get("Body") or "")
            if MARKER in body:
                continue
            who = str(a.get("From") or "someone").split(" <")[0].strip('"')
            replies.append((as_int(a.get("ArticleID")) or 0, who, body, epoch(a.get("CreateTime"))))
        stamp = None if ticket.active else str(doc.get("Changed") or "closed")
        return state_changes(since, taken, stamp, owner or "an agent", replies, epoch(doc.get("Changed")))

    async def close(self) -> None:
        await self.api.close()
