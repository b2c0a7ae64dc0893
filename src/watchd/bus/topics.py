"""The MQTT topic layout, in one place.

    <prefix><host>/status                    retained  online/offline (+ version, started_at; the last will)
    <prefix><host>/heartbeat                 -         every heartbeat_interval
    <prefix><host>/check/<check>/state       retained  current state of one check (hard state included)
    <prefix><host>/check/<check>/result      -         every result
    <prefix><host>/incident/<id>             retained  the incident while open (a snapshot with its
                                                       deliveries); once more when resolved, then cleared
    <prefix><host>/maintenance               retained  maintenance windows and silences, now and next
    <prefix><host>/notify/<contact>          -         notifications for contacts with `mqtt: true`
    <prefix><host>/command/<verb>            -         signed commands in (run, ack, silence)
    <prefix><host>/command_result            -         the answer to each command
    <prefix>$fleet/resync                    -         "publish your retained state again" (any payload)

Host and check names are single topic levels: the characters MQTT gives a meaning to (`/`, `+`, `#`)
and `%` itself are percent-encoded, so any name round-trips and no name can act as a wildcard.
"""

from __future__ import annotations

from dataclasses import dataclass

RESYNC = "$fleet/resync"  # `$` is not a host name character: no host's topics can collide
_ESCAPE = {"%": "%25", "/": "%2F", "+": "%2B", "#": "%23", "\0": "%00"}
_UNESCAPE = {v: k for k, v in _ESCAPE.items()}


def escape(name: str) -> str:
    """One topic level from any name: `a/b` -> `a%2Fb`. An empty name becomes `%`-free `_`."""
    if not name:
        return "_"
    if not any(c in name for c in _ESCAPE):
        return name
    return "".join(_ESCAPE.get(c, c) for c in name)


def unescape(level: str) -> str:
    if "%" not in level:
        return level
    out, i = [], 0
    while i < len(level):
        code = level[i : i + 3]
        if code.upper() in _UNESCAPE:
            out.append(_UNESCAPE[code.upper()])
            i += 3
        else:
            out.append(level[i])
            i += 1
    return "".join(out)


def check_prefix(prefix: str) -> str:
    """Validate a configured prefix; `watchd` becomes `watchd/`. Raises ValueError."""
    if any(c in prefix for c in "+#\0"):
        raise ValueError(f"must not contain MQTT wildcards, not {prefix!r}")
    if prefix.startswith("$"):
        raise ValueError(f"must not start with $ (reserved for the broker), not {prefix!r}")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


@dataclass(frozen=True, slots=True)
class Parsed:
    """A topic under the prefix, taken apart: `kind` is status, heartbeat, check, incident, command..."""

    host: str
    kind: str
    rest: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names for one host under one prefix (which ends with `/` or is empty)."""

    prefix: str
    host: str

    @property
    def _base(self) -> str:
        return f"{self.prefix}{escape(self.host)}"

    @property
    def status(self) -> str:
        return f"{self._base}/status"

    @property
    def heartbeat(self) -> str:
        return f"{self._base}/heartbeat"

    def state(self, check: str) -> str:
        return f"{self._base}/check/{escape(check)}/state"

    def result(self, check: str) -> str:
        return f"{self._base}/check/{escape(check)}/result"

    def incident(self, incident_id: int) -> str:
        return f"{self._base}/incident/{incident_id}"

    @property
    def maintenance(self) -> str:
        return f"{self._base}/maintenance"

    @property
    def incidents(self) -> str:
        """The subscription for this host's retained incident snapshots (checked after a restart)."""
        return f"{self._base}/incident/+"

    def notify(self, contact: str) -> str:
        return f"{self._base}/notify/{escape(contact)}"

    @property
    def commands(self) -> str:
        """The subscription for this host's commands."""
        return f"{self._base}/command/#"

    def command(self, verb: str) -> str:
        return f"{self._base}/command/{escape(verb)}"

    @property
    def command_result(self) -> str:
        return f"{self._base}/command_result"

    # -- fleet subscriptions (every host's status and heartbeat) ------------------------------------

    @property
    def resync(self) -> str:
        """Where a consumer that cannot get retained messages (a console on RabbitMQ, which keeps
        them from wildcard subscriptions) asks every host to publish its retained state again."""
        return f"{self.prefix}{RESYNC}"

    @property
    def all_status(self) -> str:
        return f"{self.prefix}+/status"

    @property
    def all_heartbeat(self) -> str:
        return f"{self.prefix}+/heartbeat"

    def parse(self, topic: str) -> Parsed | None:
        """Take a topic under this prefix apart; None for anything else."""
        if not topic.startswith(self.prefix):
            return None
        levels = topic[len(self.prefix) :].split("/")
        if len(levels) < 2:
            return None
        return Parsed(unescape(levels[0]), levels[1], tuple(unescape(x) for x in levels[2:]))
