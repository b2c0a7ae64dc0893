"""The exactly-once protocol the REST ticket backends share (RT keeps its own, older copy of it).

A subclass says how to talk to its system (`get`, `find`, `create`, `comment`, `set_status`,
`set_priority`, `applied`); this class decides *what* to do for each intent:

- `open`/`reopen`: the ticket by ref, else by the incident key (`find` searches the system's key
  field and checks the value itself: a search that ignored an unknown filter must not match), and
  only when there is none, `create` (which stores the key with the ticket).
- `update`/`resolve`/`reopen` write a comment unless `applied(ticket, op_id)` says this operation is
  already on the ticket (a last-op field, or the `[watchd op N]` marker among its comments). A
  status change that the comment call did not carry is made idempotently on its own.
- `resolve` of a ticket that is no longer active is a successful no-op.
- watchd's priority is pushed only when *watchd's* priority changed (`previous_priority` or
  `priority_raised` in the intent), so a priority a person set is kept.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from watchd.core.errors import DeliveryError
from watchd.delivery.tickets import TicketChange, TicketIntent, TwoWay

log = structlog.get_logger("watchd.tickets")

Status = Literal["resolve", "reopen"]


@dataclass(frozen=True, slots=True)
class Ticket:
    """What the protocol decides on: the system's id, whether it is still being worked on, the
    last op id stored on it (if the system has such a field) and the raw document."""

    id: str
    active: bool
    last_op: str | None = None
    raw: Any = None


def priority_changed(intent: TicketIntent) -> bool:
    previous = intent.fields.get("previous_priority")
    if isinstance(previous, str):
        return previous != intent.priority
    return bool(intent.fields.get("priority_raised"))


class KeyedBackend(ABC):
    name: str
    label: str  # "Redmine", "Zendesk", ... for messages
    two_way: TwoWay

    async def deliver(self, intent: TicketIntent, ref: str | None) -> str:
        await self.ready()
        ticket = await self.lookup(ref, intent.key)
        if intent.kind in ("open", "reopen"):
            if ticket is None:
                return await self.create(intent)
            if intent.kind == "reopen":
                if not self.reopenable(ticket):  # e.g. Zendesk's closed (archived) tickets
                    return await self.create(intent)
                await self._write(ticket, intent, None if ticket.active else "reopen")
            return ticket.id
        if ticket is None:
            raise DeliveryError(
                f"{self.label} has no ticket for incident key {intent.key!r} (ref {ref}); was it deleted?",
                retryable=False,
            )
        if intent.kind == "update":
            await self._write(ticket, intent, None)
        elif ticket.active:  # resolve; a ticket someone already closed is left alone
            await self._write(ticket, intent, "resolve")
        return ticket.id

    async def lookup(self, ref: str | None, key: str) -> Ticket | None:
        """The ticket by ref; when there is none or it is gone (404), by key."""
        if ref is not None and self.valid_ref(ref):
            ticket = await self.get(ref)
            if ticket is not None:
                return ticket
            log.warning("ticket ref is stale, searching by key", backend=self.name, ref=ref, key=key)
        return await self.find(key)

    async def _write(self, ticket: Ticket, intent: TicketIntent, status: Status | None) -> None:
        if await self.applied(ticket, intent.op_id):
            log.info("comment already applied", backend=self.name, ticket=ticket.id, op_id=intent.op_id)
            if status is not None:
                await self.set_status(ticket, status)
        else:
            await self.comment(ticket, intent, status)
        if intent.kind in ("update", "reopen") and priority_changed(intent):
            await self.set_priority(ticket, intent.priority)

    # -- what each system implements --------------------------------------------------------------

    async def ready(self) -> None:
        """Checks made once before the first delivery (credentials, project, fields); permanent
        DeliveryError when the setup cannot work."""
        return None

    def valid_ref(self, ref: str) -> bool:
        return ref.isdigit()

    def reopenable(self, ticket: Ticket) -> bool:
        return True

    @abstractmethod
    async def get(self, ref: str) -> Ticket | None: ...

    @abstractmethod
    async def find(self, key: str) -> Ticket | None: ...

    @abstractmethod
    async def create(self, intent: TicketIntent) -> str: ...

    @abstractmethod
    async def applied(self, ticket: Ticket, op_id: int) -> bool: ...

    @abstractmethod
    async def comment(self, ticket: Ticket, intent: TicketIntent, status: Status | None) -> None:
        """Add the intent's text (marked with its op) and, if `status`, resolve or reopen."""

    @abstractmethod
    async def set_status(self, ticket: Ticket, status: Status) -> None: ...

    @abstractmethod
    async def set_priority(self, ticket: Ticket, priority: str) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...


def oldest(items: list[Any], key_of: Any, key: str, what: str) -> Any | None:
    """The oldest search hit whose key field really is `key` (by the caller's `key_of`); a warning
    when there are several."""
    hits = [i for i in items if key_of(i) == key]
    if len(hits) > 1:
        log.warning("several tickets for one key, using the oldest", system=what, key=key, n=len(hits))
    return hits[0] if hits else None


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def epoch(value: Any) -> float:
    """An API timestamp as UTC epoch seconds: ISO-8601 with `Z` or an offset (fractions allowed),
    or `YYYY-MM-DD HH:MM:SS` taken as UTC; 0.0 when unreadable (the change still counts)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return 0.0
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 (Jira) -> +00:00
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def state_cursor(last_id: int, owner: str | None, closed_stamp: str) -> str:
    """A cursor for systems whose owner and status are read as state (no audit trail through the
    API): the newest comment id seen, the owner already reported, and the stamp (the ticket's
    update time) of the close already reported, so a ticket reopened and closed again counts again."""
    return f"{last_id}|{closed_stamp}|{owner or ''}"


def read_state_cursor(value: str | None) -> tuple[int, str, str]:
    if not value:
        return 0, "", ""
    last, _, rest = value.partition("|")
    stamp, _, owner = rest.partition("|")
    return as_int(last) or 0, owner, stamp


def state_changes(
    since: str | None,
    owner: str | None,
    closed_stamp: str | None,
    closed_by: str,
    replies: list[tuple[int, str, str, float]],
    at: float,
) -> list[TicketChange]:
    """The changes since the cursor for a state-read system: `taken` when the owner is new, every
    reply (id, who, text, at) after the last seen id, `closed` when the ticket is closed (its
    `closed_stamp`, e.g. the update time, not reported yet); each carries the cursor up to it."""
    last, seen_owner, seen_stamp = read_state_cursor(since)
    out: list[TicketChange] = []
    if owner and owner != seen_owner:
        seen_owner = owner
        out.append(
            TicketChange("taken", f"owner:{owner}", owner, "", at, state_cursor(last, owner, seen_stamp))
        )
    for rid, who, text, rat in sorted(replies):
        if rid > last:
            last = rid
            out.append(
                TicketChange("reply", f"c{rid}", who, text, rat, state_cursor(rid, seen_owner, seen_stamp))
            )
    if closed_stamp and closed_stamp != seen_stamp:
        out.append(
            TicketChange(
                "closed",
                f"closed:{closed_stamp}",
                closed_by,
                "",
                at,
                state_cursor(last, seen_owner, closed_stamp),
            )
        )
    return out
