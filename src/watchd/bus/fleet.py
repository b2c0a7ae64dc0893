"""Fleet watching: peers' status and heartbeats in, `fleet.<peer>` CheckResults out.

Pure in the middle: `assess` (is a peer alive, given its last status, when it was last heard of and the
time now), `responsible` (which live watcher reports a dead peer) and `decide` (what this watcher
submits) are functions of their inputs; `FleetWatcher` keeps the views and calls them with the `now`
it is given. The Bus feeds it messages and runs the timer; nothing here does I/O or reads a clock.

Election (why not shared subscriptions: docs/mqtt.md). Every watcher sees the same retained statuses
and heartbeats, so each can work out the same answer alone:
- the candidates for peer P are the live watchers whose `peers` patterns match P (never P itself);
  a watcher is live when its status is online and its heartbeats are on time, like any peer;
- if some candidates *claim* P (they reported it CRITICAL and say so in their retained status), the
  best-ranked claimer keeps it: reports stay with whoever opened the incident, so a watcher joining
  or coming back does not open a second one;
- otherwise the best-ranked candidate takes it. Rank is rendezvous hashing (highest hash of
  (peer, watcher)): stable, needs no coordination, and spreads dead peers over the watchers.
A watcher that holds a report another claimer outranks hands it over: it submits OK ("reported by X
now"), so exactly one incident stays open. A recovery is submitted by every watcher that saw the
peer down (an OK never opens anything), which also closes what a watcher held before it restarted.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from watchd.bus.payloads import REASON_SHUTDOWN, Status
from watchd.core.model import CheckResult, State

CHECK_PREFIX = "fleet."


def check_name(peer: str) -> str:
    return f"{CHECK_PREFIX}{peer}"


class Liveness(enum.Enum):
    ALIVE = "alive"
    STOPPING = "stopping"  # stopped cleanly, within the grace of one timeout (a restart, an upgrade)
    LOST = "lost"  # its last will: the connection died
    STOPPED = "stopped"  # stopped cleanly and not back within the timeout
    SILENT = "silent"  # no heartbeat (and no status) for the timeout

    @property
    def dead(self) -> bool:
        return self in (Liveness.LOST, Liveness.STOPPED, Liveness.SILENT)


@dataclass(slots=True)
class PeerView:
    """What this watcher knows about one host. Times are monotonic seconds of the watcher's clock."""

    host: str
    watched: bool = False  # matches this watcher's patterns
    online: bool | None = None  # None: heartbeats seen, no status yet
    reason: str = ""
    last_seen: float = -math.inf  # last heartbeat or online status
    changed_at: float = -math.inf  # when the status last changed
    interval: float | None = None  # the heartbeat interval it announces
    peers: tuple[str, ...] = ()  # non-empty: it is a watcher, watching these patterns
    claims: frozenset[str] = frozenset()
    reported: State | None = None  # what this watcher last submitted for it
    seen_dead: bool = False  # this watcher saw it dead (so it submits the recovery)


def timeout_for(view: PeerView, base: float) -> float:
    """A peer announcing a slow heartbeat gets three of its intervals, never less than `base`."""
    return max(base, 3 * view.interval) if view.interval else base


def assess(view: PeerView, now: float, timeout: float, since: float) -> Liveness:
    """`since`: when this watcher (re)subscribed; silence is only counted from then."""
    if view.online is False:
        if view.reason == REASON_SHUTDOWN:
            return Liveness.STOPPING if now - view.changed_at < timeout else Liveness.STOPPED
        return Liveness.LOST
    if now - max(view.last_seen, since) >= timeout:
        return Liveness.SILENT
    return Liveness.ALIVE


def watches(patterns: Iterable[str], host: str) -> bool:
    return any(fnmatchcase(host, p) for p in patterns)


def rank(peer: str, watcher: str) -> int:
    """Rendezvous hash: the candidate with the highest rank for a peer reports it."""
    digest = hashlib.blake2b(f"{peer}\0{watcher}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True, slots=True)
class Watcher:
    """A live watcher as the election sees it."""

    peers: tuple[str, ...]
    claims: frozenset[str] = frozenset()


def responsible(peer: str, watchers: Mapping[str, Watcher]) -> str | None:
    """The live watcher that reports `peer` (None: nobody watches it)."""
    candidates = [w for w, info in watchers.items() if w != peer and watches(info.peers, peer)]
    claimers = [w for w in candidates if peer in watchers[w].claims]
    pool = claimers or candidates
    if not pool:
        return None
    return max(pool, key=lambda w: (rank(peer, w), w))


def decide(
    live: Liveness, owner: str | None, me: str, reported: State | None, seen_dead: bool
) -> State | None:
    """What this watcher submits for a peer now, if anything."""
    if live.dead:
        if owner == me:
            return State.CRITICAL if reported is not State.CRITICAL else None
        return State.OK if reported is State.CRITICAL else None  # hand over (or no longer watched)
    if reported is State.CRITICAL or (seen_dead and reported is not State.OK):
        return State.OK
    return None


def summary(peer: str, live: Liveness, state: State, owner: str | None, timeout: float, age: float) -> str:
    if state is State.CRITICAL:
        if live is Liveness.LOST:
            return f"watchd on {peer} is offline: connection lost (last will)"
        if live is Liveness.STOPPED:
            return f"watchd on {peer} stopped and is not back after {timeout:g}s"
        return f"no heartbeat from {peer} for {age:.0f}s (timeout {timeout:g}s)"
    if live.dead:
        if owner is None:
            return f"{peer} is no longer watched"
        return f"watchd on {peer} is down; reported by {owner} now"
    return f"watchd on {peer} is online"


@dataclass(slots=True)
class FleetWatcher:
    """The views of all hosts on the bus, and this watcher's reports. Synchronous and clock-free."""

    me: str
    patterns: tuple[str, ...]
    timeout: float
    views: dict[str, PeerView] = field(default_factory=dict)
    since: float = -math.inf  # when the current subscription started
    synced: bool = False  # the retained statuses of this subscription have arrived
    _watchers: set[str] = field(default_factory=set)
    _claims: set[str] = field(default_factory=set)  # peers this watcher reports CRITICAL
    _pending: list[CheckResult] = field(default_factory=list)

    def reset(self, now: float) -> None:
        """A new subscription: judge nothing until `synced`, count silence from `now`."""
        self.since = now
        self.synced = False

    @property
    def claims(self) -> frozenset[str]:
        return frozenset(self._claims)

    def _view(self, host: str) -> PeerView:
        view = self.views.get(host)
        if view is None:
            view = self.views[host] = PeerView(host, watched=watches(self.patterns, host))
        return view

    def on_heartbeat(self, host: str, now: float) -> None:
        if host != self.me:
            self._view(host).last_seen = now

    def on_status(self, host: str, status: Status | None, now: float, wall: float) -> bool:
        """A status message (None: the retained status was cleared, the host left the fleet).
        True when it may change who reports what (a watcher changed), i.e. re-evaluate everything."""
        if host == self.me:
            return False
        if status is None:
            view = self.views.pop(host, None)
            self._watchers.discard(host)
            self._claims.discard(host)
            if view is not None and view.reported is State.CRITICAL:
                self._pending.append(
                    CheckResult(check_name(host), State.OK, f"{host} left the fleet", started_at=wall)
                )
            return view is not None and bool(view.peers)
        view = self._view(host)
        was_watcher = bool(view.peers)
        if view.online is not status.online or view.reason != status.reason:
            view.changed_at = now
        view.online, view.reason = status.online, status.reason
        view.interval = status.heartbeat_interval
        view.peers, view.claims = status.peers, status.claims
        if status.online:
            view.last_seen = now
        if view.peers:
            self._watchers.add(host)
        else:
            self._watchers.discard(host)
        return was_watcher or bool(view.peers)

    def live_watchers(self, now: float) -> dict[str, Watcher]:
        out = {self.me: Watcher(self.patterns, self.claims)}
        for host in self._watchers:
            v = self.views[host]
            if assess(v, now, timeout_for(v, self.timeout), self.since) is Liveness.ALIVE:
                out[host] = Watcher(v.peers, v.claims)
        return out

    def evaluate(self, now: float, wall: float, hosts: Iterable[str] | None = None) -> list[CheckResult]:
        """Results to submit now: for every watched host, or only for `hosts`."""
        if not self.synced:
            return []
        out, self._pending = self._pending, []
        watchers: dict[str, Watcher] | None = None
        views = self.views.values() if hosts is None else [self.views[h] for h in hosts if h in self.views]
        for view in views:
            if not view.watched and view.reported is None:
                continue
            timeout = timeout_for(view, self.timeout)
            live = assess(view, now, timeout, self.since)
            if not live.dead and view.reported is None and not view.seen_dead:
                continue  # the common case, kept cheap
            owner = None
            if live.dead:
                view.seen_dead = True
                if watchers is None:
                    watchers = self.live_watchers(now)
                owner = responsible(view.host, watchers) if view.watched else None
            state = decide(live, owner, self.me, view.reported, view.seen_dead)
            if state is None:
                continue
            age = now - max(view.last_seen, self.since)
            text = summary(view.host, live, state, owner, timeout, age)
            out.append(CheckResult(check_name(view.host), state, text, started_at=wall, reason=live.value))
            view.reported = state
            if state is State.CRITICAL:
                self._claims.add(view.host)
            else:
                self._claims.discard(view.host)
            if not live.dead:
                view.seen_dead = False
        return out
