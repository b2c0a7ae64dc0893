"""Things people do to incidents, shared by the CLI, the HTTP API and MQTT commands.

Each action is one store transaction that also queues the ticket updates it implies, so it works
the same from another process (the CLI) as from inside the daemon (API, MQTT).
"""

from __future__ import annotations

import dataclasses

from watchd import effects, incident_store
from watchd.model import Incident, IncidentStatus
from watchd.store import Store


class ActionError(Exception):
    """The action cannot be done (unknown id, wrong state); the message says why."""


def ack(store: Store, incident_id: int, by: str, comment: str, now: float) -> Incident:
    """Acknowledge an open incident: stops escalation and renotification; tells its ticket systems."""
    with store.transaction() as db:
        if not incident_store.ack(db, incident_id, by, now):
            inc = incident_store.get(db, incident_id)
            if inc is None:
                raise ActionError(f"no incident #{incident_id}")
            if not inc.is_open:
                raise ActionError(f"incident #{incident_id} is resolved")
            raise ActionError(f"incident #{incident_id} was already acknowledged by {inc.acked_by}")
        inc = incident_store.get(db, incident_id)
        assert inc is not None
        why = f"acknowledged by {by}" + (f": {comment}" if comment else "")
        inc = dataclasses.replace(inc, updated_at=now)
        payload = effects.ticket_payload(inc, "ack", why, None, now)
        effects.record(db, inc, "ack", why, effects.incident_channels(db, inc.id), payload, now)
    return inc


def resolve(store: Store, incident_id: int, by: str, comment: str, now: float) -> Incident:
    """Resolve by hand. If the problem persists, the check's next state change opens a new incident."""
    with store.transaction() as db:
        inc = incident_store.get(db, incident_id)
        if inc is None:
            raise ActionError(f"no incident #{incident_id}")
        if not inc.is_open:
            raise ActionError(f"incident #{incident_id} is already resolved")
        why = f"resolved by {by}" + (f": {comment}" if comment else "")
        inc = dataclasses.replace(inc, status=IncidentStatus.RESOLVED, updated_at=now, resolved_at=now)
        payload = effects.ticket_payload(inc, "resolve", why, None, now)
        effects.record(db, inc, "resolve", why, effects.incident_channels(db, inc.id), payload, now)
    return inc
