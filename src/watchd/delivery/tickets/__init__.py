"""Ticket backends behind one small seam.

The outbox hands a backend one `TicketIntent` at a time, in order per incident, and retries on a
retryable DeliveryError. Exactly-once rests on two rules every backend follows:

- `open` (and `reopen`) first **finds** a ticket carrying the intent's `key` (a custom field, a
  subject tag, a stored mapping) and only creates one when none exists, so a retry after a crash
  between "backend accepted" and "row marked done" finds the ticket instead of opening a second.
- `update`/`resolve` are addressed by the ticket ref returned by `open` (passed back in `ref`), or
  found by `key` when `ref` is None; each carries `op_id` (the outbox row id), which a backend that
  can store it uses to skip an operation it has already applied.

Two-way (optional, one design for every backend): a backend that can read its tickets back has
`changes(ref, since) -> list[TicketChange]` (what people did to the ticket after the cursor
`since`). The follow-up pass polls it every `two_way.poll` seconds; a ticket system that can call
a webhook instead nudges `POST /api/v1/tickets/<backend>/events` (authenticated by
`two_way.secret`), which reads that one ticket's changes at once. Both feed one path
(`watchd.daemon.followup`): each change is recorded once by its key, then becomes an ack, a
timeline note or a manual resolve.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

IntentKind = Literal["open", "update", "resolve", "reopen"]
ChangeKind = Literal["taken", "closed", "reply"]
CHANGE_KINDS: tuple[ChangeKind, ...] = ("taken", "closed", "reply")


@dataclass(frozen=True, slots=True)
class TicketIntent:
    kind: IntentKind
    key: str  # stable idempotency key of the incident, e.g. "watchd-web01-disk_root-17"
    incident_id: int
    op_id: int  # outbox row id; unique per operation
    host: str
    check: str
    priority: str  # "P1".."P4"
    state: str  # check state name at the time: "CRITICAL", "OK", ...
    subject: str
    body: str  # plain text for humans
    at: float  # UTC epoch of the change that caused this
    respond_by: float | None = None
    resolve_by: float | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # impact, urgency, flapping, previous priority...

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TicketIntent:
        return cls(**data)


class TicketBackend(Protocol):
    """Applies one intent; returns the ticket's reference (its id in the ticket system).

    Raises watchd.errors.DeliveryError(reason, retryable) on failure; never anything else on purpose.
    """

    name: str

    async def deliver(self, intent: TicketIntent, ref: str | None) -> str: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TicketChange:
    """Something a person did to a ticket: an agent took it, someone closed/resolved it, or a
    customer (or agent) wrote a reply. `id` is unique within the ticket and stable across polls
    (a journal or comment id, or `status:<n>`), so (channel, ref, id) records it once; `cursor` is
    what to pass as `since` next time to get only what came after it."""

    kind: ChangeKind
    id: str
    who: str
    text: str
    at: float  # UTC epoch seconds
    cursor: str = ""


@dataclass(frozen=True, slots=True)
class TwoWay:
    """A backend's `two_way` settings: poll every `poll` seconds (0: never), acknowledge incidents
    whose ticket is taken, resolve incidents whose ticket a person closed, and the secret a push to
    the webhook route must carry (None: no pushes accepted)."""

    poll: float = 0.0
    ack: bool = True
    resolve: bool = False
    secret: str | None = None


@runtime_checkable
class Polled(Protocol):
    """A backend that can be asked what happened to a ticket since a cursor."""

    two_way: TwoWay

    async def changes(self, ref: str, since: str | None) -> list[TicketChange]: ...
