"""Ticket backends behind one small seam.

The outbox hands a backend one `TicketIntent` at a time, in order per incident, and retries on a
retryable DeliveryError. Exactly-once rests on two rules every backend follows:

- `open` (and `reopen`) first **finds** a ticket carrying the intent's `key` (a custom field, a
  subject tag, a stored mapping) and only creates one when none exists, so a retry after a crash
  between "backend accepted" and "row marked done" finds the ticket instead of opening a second.
- `update`/`resolve` are addressed by the ticket ref returned by `open` (passed back in `ref`), or
  found by `key` when `ref` is None; each carries `op_id` (the outbox row id), which a backend that
  can store it uses to skip an operation it has already applied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

IntentKind = Literal["open", "update", "resolve", "reopen"]


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
