"""What PagerDuty and Opsgenie send back (parsed by delivery.paging.inbound) applied to incidents:
an acknowledgement there acknowledges the incident here (which stops the escalation), a resolve
there resolves it here. Each service event is applied once: its id is recorded with the action in
one transaction (`link_uses`, keyed "<service>:<event id>"), so a webhook retried by the service
is a no-op."""

from __future__ import annotations

import re
from dataclasses import dataclass

from watchd.control import actions
from watchd.core.model import incident_key
from watchd.delivery.paging.inbound import InboundAck
from watchd.store import Store
from watchd.store import incidents as incident_store
from watchd.store import paging as paging_store

_ID = re.compile(r"-(\d{1,18})$")
VERB = {"acknowledge": "ack", "resolve": "resolve"}


@dataclass(frozen=True, slots=True)
class Outcome:
    key: str
    action: str
    result: str  # "done", "duplicate", "ignored", or why nothing was done


def find(store: Store, key: str) -> int | None:
    """The incident a key names: the id is its tail, and host and check must match too."""
    m = _ID.search(key)
    if m is None:
        return None
    inc = incident_store.get(store.db, int(m.group(1)))
    return inc.id if inc is not None and incident_key(inc.host, inc.check, inc.id) == key else None


def apply(store: Store, acks: list[InboundAck], now: float) -> list[Outcome]:
    out = []
    for a in acks:
        action = VERB.get(a.action)
        incident_id = find(store, a.key) if action else None
        if action is None or incident_id is None:
            out.append(Outcome(a.key, a.action, "ignored" if action is None else "no such incident"))
            continue
        by = f"{a.by or 'someone'} ({a.service})"
        try:
            with store.transaction() as db:
                if not paging_store.use_link(db, f"{a.service}:{a.event_id}", incident_id, action, by, now):
                    out.append(Outcome(a.key, a.action, "duplicate"))
                    continue
                if action == "ack":
                    actions.ack_in(db, incident_id, by, f"acknowledged in {a.service}", now)
                else:
                    actions.resolve_in(db, incident_id, by, f"resolved in {a.service}", now)
        except actions.ActionError as exc:  # acknowledged or resolved here already: nothing to do
            out.append(Outcome(a.key, a.action, str(exc)))
            continue
        out.append(Outcome(a.key, a.action, "done"))
    return out
