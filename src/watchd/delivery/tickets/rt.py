"""Request Tracker 5 through REST2 (`/REST/2.0`): one ticket per incident, found by a custom field.

Exactly-once, as the seam asks:

- `open`/`reopen` search `CF.{WatchdKey} = '<key>'` (every status but deleted, oldest first) and
  create a ticket only when there is none, so a retry after a crash finds the ticket it opened.
- Every write that adds text (`update`, `resolve`, `reopen`) is one `POST /ticket/N/comment` whose
  JSON also sets the custom field `WatchdLastOp` to the intent's `op_id` (and, for resolve/reopen,
  the Status). RT 5.0.3 applies the comment, then the custom fields, then the status inside that one
  request. A retry reads the ticket first and skips the comment when `WatchdLastOp` already holds its
  `op_id`. What remains: RT dying between its own writes inside that one request (there is no
  database transaction around them), or two deliverers racing on one incident (the outbox delivers
  one intent per incident at a time).
- Resolving a ticket that is already resolved (or rejected) is a successful no-op.

RT answers some failed updates with 200 and a list of messages; every write here names the
messages it expects ("Comments added", "Status changed", the field name) and a write without them is
a permanent DeliveryError quoting RT's words.

Before the first delivery the backend reads the queue once and fails permanently when one of the
configured custom fields is not applied to it: without `WatchdKey` every retry would open a ticket.

About 470 lines on purpose (two-way `changes` included): the search, the create, the guarded comment
and the answer checks are one protocol, and a reader checking the exactly-once argument above wants
them in one file.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog

from watchd import __version__
from watchd.core.errors import DeliveryError, ParamError, http_status_retryable
from watchd.delivery import httpcall
from watchd.delivery.tickets import TicketChange, TicketIntent, TwoWay
from watchd.delivery.tickets.keyed import epoch
from watchd.delivery.tickets.render import Options, render_text

log = structlog.get_logger("watchd.tickets.rt")

DEFAULT_PRIORITIES: Mapping[str, int] = {"P1": 90, "P2": 70, "P3": 50, "P4": 30}
INACTIVE = frozenset({"resolved", "rejected", "deleted"})  # RT's default lifecycle
MAX_BODY = 1 << 20
_FIELD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")  # safe inside CF.{...} in TicketSQL


def tsql_quote(value: str) -> str:
    """A TicketSQL string literal: single quotes, with backslash and quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class RTTicket:
    """The few facts of an RT ticket the backend decides on."""

    id: str
    status: str
    priority: int | None
    custom_fields: Mapping[str, tuple[str, ...]]

    def field(self, name: str) -> str | None:
        values = self.custom_fields.get(name, ())
        return values[0] if values else None

    @classmethod
    def from_json(cls, data: Any) -> RTTicket:
        if not isinstance(data, Mapping) or "id" not in data:
            raise DeliveryError(f"RT answered with an unexpected ticket shape: {_snippet(data)}", False)
        fields: dict[str, tuple[str, ...]] = {}
        for cf in data.get("CustomFields") or ():
            if isinstance(cf, Mapping) and isinstance(cf.get("name"), str):
                fields[cf["name"]] = tuple(str(v) for v in cf.get("values") or ())
        raw_priority = data.get("Priority")
        try:
            priority = int(raw_priority) if raw_priority is not None else None
        except (TypeError, ValueError):
            priority = None
        return cls(str(data["id"]), str(data.get("Status") or ""), priority, fields)


class RTBackend:
    """Tickets in one RT queue; auth by token (`Authorization: token ...`) or user and password."""

    name = "rt"

    def __init__(
        self,
        url: str,
        queue: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        key_field: str = "WatchdKey",
        last_op_field: str | None = "WatchdLastOp",
        priority_field: str | None = None,
        host_field: str | None = None,
        check_field: str | None = None,
        requestors: Sequence[str] = (),
        priorities: Mapping[str, int] = DEFAULT_PRIORITIES,
        timeout: float = 10.0,
        two_way: TwoWay | None = None,
    ) -> None:
        if (token is None) == (username is None and password is None):
            raise ValueError("give either token or username and password")
        if token is None and (username is None or password is None):
            raise ValueError("basic auth needs both username and password")
        self.url = url.rstrip("/")
        self.queue = queue
        self.key_field = key_field
        self.last_op_field = last_op_field
        self.priority_field = priority_field
        self.host_field = host_field
        self.check_field = check_field
        self.requestors = tuple(requestors)
        self.priorities = dict(priorities)
        self.timeout = timeout
        self.two_way = two_way or TwoWay(poll=60.0)
        self._headers = {"Accept": "application/json", "User-Agent": f"watchd/{__version__}"}
        if token is not None:
            self._headers["Authorization"] = f"token {token}"
        else:
            basic = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {basic}"
        self._session: aiohttp.ClientSession | None = None
        self._queue_checked = False

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> RTBackend:
        """Build from a config mapping; ParamError names the bad key. Relative `*_file` paths use base_dir."""
        o = Options(params, base_dir)
        url = o.required("url")
        if not url.startswith(("http://", "https://")):
            raise ParamError("url", f"expected an http:// or https:// URL, got {url!r}")
        queue = o.required("queue")
        token = o.secret("token", required=False)
        username = o.text("username")
        password = o.secret("password", required=False)
        if token is not None and (username is not None or password is not None):
            raise ParamError("username", "give token_file/token_env or username and password_file, not both")
        if token is None and (username is None or password is None):
            raise ParamError(
                "token_file" if username is None else "password_file",
                "required: token_file/token_env, or username with password_file/password_env",
            )
        names: dict[str, str | None] = {"custom_field": o.text("custom_field", "WatchdKey")}
        names["last_op_field"] = o.text("last_op_field", "WatchdLastOp")
        if not o.flag("dedupe_comments", True):
            names["last_op_field"] = None
        for key in ("priority_field", "host_field", "check_field"):
            names[key] = o.text(key)
        for key, name in names.items():
            if name is not None and not _FIELD_NAME.match(name):
                raise ParamError(key, f"custom field names use letters, digits, space, _ . -; got {name!r}")
        priorities = dict(DEFAULT_PRIORITIES)
        mapping = o.mapping("priorities")
        for level, value in (mapping or {}).items():
            if level not in DEFAULT_PRIORITIES:
                raise ParamError(f"priorities.{level}", "unknown priority: expected P1, P2, P3 or P4")
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
                raise ParamError(f"priorities.{level}", f"expected an integer 0..255, got {value!r}")
            priorities[level] = value
        requestors = o.text_list("requestor")
        timeout = o.number("timeout", 10.0, low=0.5, high=300.0)
        two_way = o.two_way(poll=True, push=False)
        o.done()
        key_field = names["custom_field"]
        assert key_field is not None
        return cls(
            url,
            queue,
            token=token,
            username=username,
            password=password,
            key_field=key_field,
            last_op_field=names["last_op_field"],
            priority_field=names["priority_field"],
            host_field=names["host_field"],
            check_field=names["check_field"],
            requestors=requestors,
            priorities=priorities,
            timeout=timeout,
            two_way=two_way,
        )

    # -- the seam -------------------------------------------------------------------------------

    async def deliver(self, intent: TicketIntent, ref: str | None) -> str:
        await self._check_queue()
        if intent.kind in ("open", "reopen"):
            ticket = await self._lookup(ref, intent.key)
            if ticket is None:
                return await self._create(intent)
            if intent.kind == "reopen":
                await self._write(ticket, intent, status="open" if ticket.status in INACTIVE else None)
                await self._sync_priority(ticket, intent)
            return ticket.id
        ticket = await self._lookup(ref, intent.key)
        if ticket is None:
            raise DeliveryError(
                f"RT has no ticket for incident key {intent.key!r} (ref {ref}); was it deleted?", False
            )
        if intent.kind == "update":
            await self._write(ticket, intent, status=None)
            await self._sync_priority(ticket, intent)
        elif ticket.status not in INACTIVE:  # resolve; an already resolved ticket is left alone
            await self._write(ticket, intent, status="resolved")
        return ticket.id

    async def changes(self, ref: str, since: str | None) -> list[TicketChange]:
        """Two-way: the ticket's transactions after the cursor (a transaction id). An owner set
        (Take, Give, Steal, or Owner changed) is `taken` by the new owner; a change to resolved or
        rejected is `closed` and a Correspond is `reply`, when made by someone other than the user
        that created the ticket (watchd). A ticket RT does not know has no changes."""
        if not ref.isdigit():
            return []
        status, ticket = await self._call("GET", f"/ticket/{ref}", what=f"ticket {ref}", allow_404=True)
        if status == 404 or not isinstance(ticket, Mapping):
            return []
        owner = ticket.get("Owner")
        owner_name = str(owner.get("id") if isinstance(owner, Mapping) else owner or "")
        params = {"fields": "Type,Field,NewValue,Creator,Created", "orderby": "id", "order": "ASC",
                  "per_page": "100"}  # fmt: skip
        after = int(since) if since and since.isdigit() else 0
        out: list[TicketChange] = []
        me: str | None = None
        page = 1
        while True:
            _, body = await self._call("GET", f"/ticket/{ref}/history", params={**params, "page": str(page)},
                                       what=f"history of ticket {ref}")  # fmt: skip
            items = [i for i in (_mapping(body, "history").get("items") or []) if isinstance(i, Mapping)]
            for item in items:
                tid = int(item.get("id") or 0)
                creator = item.get("Creator")
                who = str(creator.get("id") if isinstance(creator, Mapping) else creator or "")
                kind = item.get("Type")
                if kind == "Create" and me is None:
                    me = who
                if tid <= after:
                    continue
                at = epoch(item.get("Created"))
                owner_set = kind in ("Take", "Give", "Steal") or (
                    kind == "Set" and item.get("Field") == "Owner"
                )
                if owner_set and owner_name and owner_name != "Nobody":
                    out.append(TicketChange("taken", f"t{tid}", owner_name, "", at, str(tid)))
                elif who == me:
                    continue
                elif kind == "Status" and item.get("NewValue") in ("resolved", "rejected"):
                    out.append(TicketChange("closed", f"t{tid}", who, "", at, str(tid)))
                elif kind == "Correspond":
                    out.append(TicketChange("reply", f"t{tid}", who, "", at, str(tid)))
            pages = _mapping(body, "history").get("pages") or 1
            if page >= int(pages) or not items:
                break
            page += 1
        return out

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- steps ----------------------------------------------------------------------------------

    async def _check_queue(self) -> None:
        if self._queue_checked:
            return
        _, body = await self._call("GET", f"/queue/{quote(self.queue, safe='')}", what=f"queue {self.queue}")
        fields = _mapping(body, f"queue {self.queue}").get("TicketCustomFields") or ()
        present = {cf.get("name") for cf in fields if isinstance(cf, Mapping)}
        wanted = (self.key_field, self.last_op_field, self.priority_field, self.host_field, self.check_field)
        missing = [name for name in wanted if name is not None and name not in present]
        if missing:
            raise DeliveryError(
                f"RT custom field(s) {', '.join(missing)} not applied to queue {self.queue} (or not visible "
                "to this user); without them retries could duplicate tickets or comments",
                retryable=False,
            )
        self._queue_checked = True

    async def _lookup(self, ref: str | None, key: str) -> RTTicket | None:
        """The ticket by ref; when the ref is missing or stale (404, deleted), by key once."""
        if ref is not None and ref.isdigit():
            status, body = await self._call("GET", f"/ticket/{ref}", what=f"ticket {ref}", allow_404=True)
            if status != 404:
                ticket = RTTicket.from_json(body)
                if ticket.status != "deleted":
                    return ticket
            log.warning("rt ticket ref is stale, searching by key", ref=ref, key=key)
        return await self._find(key)  # RT's search never returns deleted tickets

    async def _find(self, key: str) -> RTTicket | None:
        query = f"CF.{{{self.key_field}}} = {tsql_quote(key)}"
        params = {
            "query": query,
            "orderby": "id",
            "order": "ASC",
            "per_page": "10",
            "fields": "Status,Priority,CustomFields",
        }
        _, body = await self._call("GET", "/tickets", params=params, what="ticket search")
        items = _mapping(body, "ticket search").get("items") or []
        if not items:
            return None
        if len(items) > 1:
            log.warning(
                "rt has several tickets for one key, using the oldest",
                key=key,
                tickets=[str(i.get("id")) for i in items if isinstance(i, Mapping)],
            )
        return RTTicket.from_json(items[0])

    async def _create(self, intent: TicketIntent) -> str:
        fields = {self.key_field: intent.key}
        if self.last_op_field:
            fields[self.last_op_field] = str(intent.op_id)
        for name, value in (
            (self.priority_field, intent.priority),
            (self.host_field, intent.host),
            (self.check_field, intent.check),
        ):
            if name:
                fields[name] = value
        payload: dict[str, Any] = {
            "Queue": self.queue,
            "Subject": intent.subject,
            "Content": render_text(intent),
            "ContentType": "text/plain",
            "Priority": self._rt_priority(intent.priority),
            "CustomFields": fields,
        }
        if self.requestors:
            payload["Requestor"] = list(self.requestors)
        _, body = await self._call("POST", "/ticket", json_body=payload, what=f"create in {self.queue}")
        ticket_id = _mapping(body, "ticket create").get("id")
        if ticket_id is None:
            raise DeliveryError(f"RT created no ticket: {_snippet(body)}", retryable=False)
        log.info("rt ticket created", key=intent.key, ticket=str(ticket_id), op_id=intent.op_id)
        return str(ticket_id)

    async def _write(self, ticket: RTTicket, intent: TicketIntent, *, status: str | None) -> None:
        """Comment (and set `status`) unless this op_id is already on the ticket; then only the status."""
        already = self.last_op_field is not None and ticket.field(self.last_op_field) == str(intent.op_id)
        if already:
            log.info("rt comment already applied", ticket=ticket.id, op_id=intent.op_id)
            if status is not None and ticket.status != status:
                await self._put(ticket, {"Status": status}, ["Status changed"])
            return
        payload: dict[str, Any] = {"Content": render_text(intent), "ContentType": "text/plain"}
        expect = ["Comments added"]
        if self.last_op_field:
            payload["CustomFields"] = {self.last_op_field: str(intent.op_id)}
            expect.append(self.last_op_field)
        if status is not None and ticket.status != status:
            payload["Status"] = status
            expect.append("Status changed")
        _, body = await self._call(
            "POST", f"/ticket/{ticket.id}/comment", json_body=payload, what=f"comment on ticket {ticket.id}"
        )
        _expect(body, expect, ticket.id)

    async def _sync_priority(self, ticket: RTTicket, intent: TicketIntent) -> None:
        """Set RT's priority when watchd's changed: by the priority CF if kept, else `previous_priority`."""
        if self.priority_field:
            changed = ticket.field(self.priority_field) != intent.priority
        else:
            previous = intent.fields.get("previous_priority")
            changed = isinstance(previous, str) and previous != intent.priority
        if not changed:
            return
        update: dict[str, Any] = {}
        expect: list[str] = []
        wanted = self._rt_priority(intent.priority)
        if ticket.priority != wanted:
            update["Priority"] = wanted
            expect.append("Priority changed")
        if self.priority_field and ticket.field(self.priority_field) != intent.priority:
            update["CustomFields"] = {self.priority_field: intent.priority}
            expect.append(self.priority_field)
        if update:
            await self._put(ticket, update, expect)

    async def _put(self, ticket: RTTicket, update: dict[str, Any], expect: list[str]) -> None:
        _, body = await self._call(
            "PUT", f"/ticket/{ticket.id}", json_body=update, what=f"ticket {ticket.id}"
        )
        _expect(body, expect, ticket.id)

    def _rt_priority(self, priority: str) -> int:
        try:
            return self.priorities[priority]
        except KeyError:
            raise DeliveryError(f"no RT priority configured for {priority!r}", retryable=False) from None

    # -- HTTP -----------------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        allow_404: bool = False,
    ) -> tuple[int, Any]:
        """One REST2 request: (status, decoded JSON) for 2xx (and 404 when allowed), else DeliveryError."""
        url = f"{self.url}/REST/2.0{path}"
        answer = await httpcall.call(
            self._client(), method, url, what=f"RT {what}", timeout=self.timeout, max_body=MAX_BODY,
            params=params, json=json_body,
        )  # fmt: skip
        status, location, raw = answer.status, answer.location, answer.body
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if status == 404 and allow_404:
            return status, body
        if 200 <= status < 300:
            if body is None:
                raise DeliveryError(
                    f"RT {what}: HTTP {status} without JSON (is url the RT base URL?): {_snippet(raw)}",
                    retryable=False,
                )
            return status, body
        message = body.get("message") if isinstance(body, Mapping) else None
        detail = message if isinstance(message, str) else _snippet(raw)
        if status == 401:
            raise DeliveryError(f"RT {what}: 401 unauthorized (check the token or password)", retryable=False)
        if 300 <= status < 400:
            raise DeliveryError(
                f"RT {what}: redirected ({status}) to {location}; set url to the final address",
                retryable=False,
            )
        raise DeliveryError(f"RT {what}: HTTP {status}: {detail}", retryable=http_status_retryable(status))


def _expect(body: Any, markers: list[str], ticket_id: str) -> None:
    """RT reports a refused change as a message in a 200/201 list: every marker must be in some message."""
    messages = [str(m) for m in body] if isinstance(body, list) else [json.dumps(body)]
    missing = [m for m in markers if not any(m in message for message in messages)]
    if missing:
        raise DeliveryError(
            f"RT did not apply the change to ticket {ticket_id} (no {', '.join(repr(m) for m in missing)}): "
            + "; ".join(messages),
            retryable=False,
        )


def _mapping(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise DeliveryError(f"RT {what}: expected a JSON object, got {_snippet(body)}", retryable=False)
    return body


def _snippet(value: Any, limit: int = 300) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
