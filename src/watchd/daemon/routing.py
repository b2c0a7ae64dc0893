"""Per-check policy read from the current config and store: state-machine settings, incident
classification, where incidents go, and why a problem must wait (silence, maintenance, parents).

Checks that are not in the config but flow through the pipeline anyway:
    watchd.*   watchd's own problems (a failing ticket channel): fallback tickets, on-call only
    fleet.*    a peer host that went silent (MQTT fleet watch): a real incident for the host
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from watchd.config import Config
from watchd.core import paging, suppression
from watchd.core.incidents import CheckIncidentPolicy
from watchd.core.maintenance import Scope, Window, windows_between
from watchd.core.model import CheckStatus
from watchd.core.state import StatePolicy
from watchd.core.suppression import Silence
from watchd.delivery.effects import contact_channels
from watchd.pipeline.incidents import Route
from watchd.store import Store

INTERNAL_PREFIX = "watchd."
FLEET_PREFIX = "fleet."
UNCONFIGURED_PREFIXES = (INTERNAL_PREFIX, FLEET_PREFIX)


def is_unconfigured_check(name: str) -> bool:
    """Checks fed by watchd itself, never in the config: a reload must not forget them."""
    return name.startswith(UNCONFIGURED_PREFIXES)


class Routing:
    def __init__(
        self,
        config: Callable[[], Config],
        store: Callable[[], Store],
        statuses: Callable[[], Mapping[str, CheckStatus]],
    ) -> None:
        self._config = config
        self._store = store
        self._statuses = statuses

    def state_policy(self, name: str) -> StatePolicy:
        cfg = self._config().checks.get(name)
        if cfg is not None:
            return cfg.policy
        return StatePolicy(max_attempts=1, flap_detection=False)  # watchd's own alerts are hard at once

    def incident_policy(self, name: str) -> CheckIncidentPolicy | None:
        c = self._config()
        inc = c.incidents
        cfg = c.checks.get(name)
        if cfg is None:
            if name.startswith(FLEET_PREFIX):  # a whole host is silent: as bad as it gets
                return CheckIncidentPolicy(c.host, "high", "high", 0.0, inc.priority)
            if name.startswith(INTERNAL_PREFIX):
                return CheckIncidentPolicy(c.host, "medium", "high", 0.0, inc.priority)
            return None
        impact, urgency = cfg.impact, cfg.urgency
        for tag in cfg.tags:  # the first tag that says wins over the global default
            t = inc.tags.get(tag)
            if t is not None:
                impact = impact or t.impact
                urgency = urgency or t.urgency
        return CheckIncidentPolicy(
            c.host, impact or inc.impact, urgency or inc.urgency, inc.reopen_within, inc.priority
        )

    def route(self, name: str) -> Route:
        """Ticket backends and contact channels for a check's incidents."""
        c = self._config()
        media = {n: ct.media for n, ct in c.contacts.items()}
        cfg = c.checks.get(name)
        if cfg is None:
            if name.startswith(FLEET_PREFIX):
                return Route(c.tickets.default, tuple(contact_channels(c.notify.default, media)), name)
            failing = name.removeprefix(INTERNAL_PREFIX + "delivery.")  # never route to the failing channel
            oncall = [n for n in c.notify.default if c.contacts[n].kind == "oncall"]
            return Route(
                tuple(b for b in c.tickets.fallback if b != failing), tuple(contact_channels(oncall, media))
            )
        tickets = cfg.tickets if cfg.tickets is not None else c.tickets.default
        contacts = cfg.notify if cfg.notify is not None else c.notify.default
        people = tuple(contacts)
        return Route(
            tickets, tuple(contact_channels(contacts, media)), cfg.description,
            lambda priority, now: self.channels(people, priority, now),
        )  # fmt: skip

    def channels(self, contacts: Iterable[str], priority: str, at: float) -> list[str]:
        """notify:<contact>:<medium> for the media of each contact that may sound now: quiet hours
        mute media below their priority; a contact who takes this priority as a digest gets one
        digest:<contact> instead (held for the daily digest)."""
        known = self._config().contacts
        out = []
        for name in contacts:
            c = known.get(name)
            if c is None:
                continue
            if c.digest is not None and c.digest.holds(priority):
                out.append(f"digest:{name}")
                continue
            out += [
                f"notify:{name}:{m}" for m in paging.audible(c.media, priority, at, c.timezone, c.quiet_hours)
            ]
        return out

    def suppression(self, name: str, now: float) -> str | None:
        """Why this check's problem must not reach people now (silence, maintenance, failing parent)."""
        cfg = self._config().checks.get(name)
        if cfg is None:
            return None
        silences = [
            Silence(*r)
            for r in self._store().db.execute(
                "SELECT id, check_name, starts_at, ends_at, created_by, comment FROM silences"
                " WHERE check_name = ? AND removed_at IS NULL AND starts_at <= ? AND ends_at > ?",
                (name, now, now),
            )
        ]
        windows = windows_between(
            self._config().maintenance.windows, self.downtimes(now, now + 1), now, now + 1
        )
        statuses = self._statuses()
        failing = [p for p in cfg.depends_on if p in statuses and statuses[p].state.is_problem]
        return suppression.reason(name, cfg.tags, now, silences, windows, failing)

    def downtimes(self, start: float, end: float) -> list[Window]:
        """One-off maintenance windows from the store overlapping [start, end)."""
        rows = self._store().db.execute(
            "SELECT id, scope, target, starts_at, ends_at, comment, announce FROM downtimes"
            " WHERE removed_at IS NULL AND ends_at > ? AND starts_at < ?",
            (start, end),
        )
        out = []
        for i, scope, target, s, e, comment, announce in rows:
            sc = (
                Scope(checks=(target,))
                if scope == "check"
                else Scope(tags=(target,))
                if scope == "tag"
                else Scope()
            )
            out.append(Window(f"downtime:{i}", s, e, sc, bool(announce), comment))
        return out
