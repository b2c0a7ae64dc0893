"""Fleet liveness and election as pure functions of (views, now): literal times, no loop, no sleeps."""

from __future__ import annotations

import math

import pytest

from watchd.bus import payloads
from watchd.bus.fleet import (
    FleetWatcher,
    Liveness,
    PeerView,
    Watcher,
    assess,
    decide,
    rank,
    responsible,
    timeout_for,
)
from watchd.core.model import State

T = 30.0  # peer timeout
ONLINE = payloads.Status(True, "", 10.0)
LOST = payloads.Status(False, payloads.REASON_LOST)
SHUTDOWN = payloads.Status(False, payloads.REASON_SHUTDOWN)


def watcher_status(*patterns: str, claims: frozenset[str] = frozenset()) -> payloads.Status:
    return payloads.Status(True, "", 10.0, patterns, claims)


@pytest.mark.parametrize(
    ("view", "now", "since", "expected"),
    [
        pytest.param(PeerView("p", online=True, last_seen=100), 129.9, 0, Liveness.ALIVE, id="on time"),
        pytest.param(PeerView("p", online=True, last_seen=100), 130, 0, Liveness.SILENT, id="missed"),
        pytest.param(PeerView("p", online=True, last_seen=100), 140, 120, Liveness.ALIVE,
                     id="silence counts from our (re)subscribe only"),
        pytest.param(PeerView("p", online=None, last_seen=100), 110, 0, Liveness.ALIVE,
                     id="heartbeats without a status are enough"),
        pytest.param(PeerView("p", online=None), 130, 100, Liveness.SILENT, id="never heard since subscribe"),
        pytest.param(PeerView("p", online=False, reason="connection lost", last_seen=100), 100.1, 0,
                     Liveness.LOST, id="last will: dead at once"),
        pytest.param(PeerView("p", online=False, reason="shutdown", changed_at=100), 120, 0,
                     Liveness.STOPPING, id="clean stop: grace of one timeout (a restart)"),
        pytest.param(PeerView("p", online=False, reason="shutdown", changed_at=100), 130, 0,
                     Liveness.STOPPED, id="clean stop and not back"),
    ],
)  # fmt: skip
def test_assess(view: PeerView, now: float, since: float, expected: Liveness) -> None:
    """Liveness from the last status, the last time heard of and now."""
    assert assess(view, now, T, since) is expected


def test_timeout_follows_a_slow_peer() -> None:
    """A peer announcing a 60 s heartbeat gets 3 intervals, a fast one the configured timeout."""
    assert timeout_for(PeerView("p", interval=60.0), T) == 180.0
    assert timeout_for(PeerView("p", interval=1.0), T) == T
    assert timeout_for(PeerView("p"), T) == T


def _best(peer: str, *names: str) -> str:
    return max(names, key=lambda w: (rank(peer, w), w))


@pytest.mark.parametrize(
    ("watchers", "expected"),
    [
        pytest.param({"w1": Watcher(("*",)), "w2": Watcher(("*",))}, _best("p", "w1", "w2"),
                     id="highest rendezvous rank among candidates"),
        pytest.param({"w1": Watcher(("*",)), "w2": Watcher(("db-*",))}, "w1", id="only matching watchers"),
        pytest.param({"w1": Watcher(("db-*",))}, None, id="nobody watches it"),
        pytest.param({"p": Watcher(("*",)), "w1": Watcher(("q",))}, None, id="never itself"),
        pytest.param({"w1": Watcher(("*",)), "w2": Watcher(("*",), frozenset({"p"}))}, "w2",
                     id="a claimer keeps it"),
        pytest.param({"w1": Watcher(("*",), frozenset({"p"})), "w2": Watcher(("*",), frozenset({"p"}))},
                     _best("p", "w1", "w2"), id="two claimers: the better-ranked one"),
    ],
)  # fmt: skip
def test_responsible(watchers: dict[str, Watcher], expected: str | None) -> None:
    """One answer every watcher computes alike from the same view."""
    assert responsible("p", watchers) == expected


def test_rank_spreads_peers_over_watchers() -> None:
    """Rendezvous hashing gives each of 3 watchers a fair share of 3,000 peers."""
    counts = {"w1": 0, "w2": 0, "w3": 0}
    ws = {w: Watcher(("*",)) for w in counts}
    for i in range(3000):
        counts[responsible(f"peer-{i}", ws)] += 1  # type: ignore[index]
    assert all(800 < c < 1200 for c in counts.values()), counts


@pytest.mark.parametrize(
    ("live", "owner", "reported", "seen_dead", "expected"),
    [
        pytest.param(Liveness.LOST, "me", None, True, State.CRITICAL, id="dead, mine: report"),
        pytest.param(Liveness.LOST, "me", State.CRITICAL, True, None, id="dead, mine, reported: once"),
        pytest.param(Liveness.SILENT, "other", None, True, None, id="dead, not mine: quiet"),
        pytest.param(Liveness.LOST, "other", State.CRITICAL, True, State.OK, id="outranked: hand over"),
        pytest.param(Liveness.LOST, None, State.CRITICAL, True, State.OK, id="no longer watched: close"),
        pytest.param(Liveness.ALIVE, None, State.CRITICAL, True, State.OK, id="back: recovery"),
        pytest.param(Liveness.ALIVE, None, None, True, State.OK, id="back, seen dead: all say OK"),
        pytest.param(Liveness.ALIVE, None, State.OK, True, None, id="back, said already"),
        pytest.param(Liveness.ALIVE, None, None, False, None, id="alive all along"),
        pytest.param(Liveness.STOPPING, None, None, False, None, id="restarting: not dead yet"),
    ],
)  # fmt: skip
def test_decide(
    live: Liveness, owner: str | None, reported: State | None, seen_dead: bool, expected: State | None
) -> None:
    """What this watcher submits: CRITICAL only when elected, OK whenever it helps close something."""
    assert decide(live, owner, "me", reported, seen_dead) is expected


# -- watchers end to end, driven by hand ------------------------------------------------------------


class Fleet:
    """Several FleetWatchers fed the same messages, as the broker would, with one clock."""

    def __init__(self, *names: str, patterns: tuple[str, ...] = ("*",)) -> None:
        self.now = 1000.0
        self.watchers = {n: FleetWatcher(n, patterns, T) for n in names}
        for w in self.watchers.values():
            w.reset(self.now)
            w.synced = True
        for n in names:
            self.status(n, watcher_status(*patterns))
        self.reports: list[tuple[str, str, State]] = []

    def status(self, host: str, st: payloads.Status | None) -> None:
        for w in self.watchers.values():
            w.on_status(host, st, self.now, self.now)

    def heartbeat(self, *hosts: str) -> None:
        for w in self.watchers.values():
            for h in hosts:
                w.on_heartbeat(h, self.now)

    def tick(self, seconds: float = 0.0) -> list[tuple[str, str, State]]:
        self.now += seconds
        out = []
        for name, w in self.watchers.items():
            out += [(name, r.check, r.state) for r in w.evaluate(self.now, self.now)]
            # publish the claims, as the Bus republishes its status when they change
            for other in self.watchers.values():
                if other is not w:
                    other.on_status(name, watcher_status(*w.patterns, claims=w.claims), self.now, self.now)
        self.reports += out
        return out


def test_two_watchers_one_report_on_a_last_will() -> None:
    """A peer's will: exactly one CRITICAL across both watchers; both submit the recovery."""
    f = Fleet("w1", "w2")
    f.status("p", ONLINE)
    assert f.tick(1) == []
    f.status("p", LOST)
    reports = f.tick()
    owner = _best("p", "w1", "w2")
    assert reports == [(owner, "fleet.p", State.CRITICAL)]
    assert f.tick(5) == []  # once
    f.status("p", ONLINE)
    assert sorted(f.tick()) == [("w1", "fleet.p", State.OK), ("w2", "fleet.p", State.OK)]


def test_two_watchers_one_report_on_silence() -> None:
    """No message at all (no will): every watcher times out, still only the elected one reports."""
    f = Fleet("w1", "w2")
    f.status("p", ONLINE)
    for _ in range(3):
        f.heartbeat("w1", "w2", "p")
        assert f.tick(10) == []
    f.heartbeat("w1", "w2")
    assert f.tick(10) == []  # p silent for 20 s
    f.heartbeat("w1", "w2")
    reports = f.tick(10)  # 30 s: timeout
    assert reports == [(_best("p", "w1", "w2"), "fleet.p", State.CRITICAL)]


def test_the_other_watcher_takes_over_when_the_owner_dies() -> None:
    """The elected watcher dies too: the survivor reports both the watcher and the peer."""
    f = Fleet("w1", "w2")
    f.status("p", ONLINE)
    f.status("p", LOST)
    owner = _best("p", "w1", "w2")
    other = "w2" if owner == "w1" else "w1"
    assert f.tick() == [(owner, "fleet.p", State.CRITICAL)]
    del f.watchers[owner]
    f.status(owner, LOST)
    assert sorted(f.tick()) == sorted(
        [(other, "fleet.p", State.CRITICAL), (other, f"fleet.{owner}", State.CRITICAL)]
    )


def test_a_joining_watcher_does_not_report_a_claimed_peer() -> None:
    """Claims are sticky: a better-ranked watcher that joins later leaves the report where it is."""
    peer = next(p for p in (f"p{i}" for i in range(100)) if _best(p, "w1", "w2") == "w2")
    f = Fleet("w1")
    f.status(peer, ONLINE)
    f.status(peer, LOST)
    assert f.tick() == [("w1", f"fleet.{peer}", State.CRITICAL)]
    w2 = FleetWatcher("w2", ("*",), T)
    w2.reset(f.now)
    w2.on_status("w1", watcher_status("*", claims=f.watchers["w1"].claims), f.now, f.now)
    w2.on_status(peer, LOST, f.now, f.now)
    w2.synced = True
    assert w2.evaluate(f.now, f.now) == []


def test_outranked_claimer_hands_over() -> None:
    """Two claimers (a watcher came back): the outranked one submits OK, one incident stays open."""
    peer = next(p for p in (f"p{i}" for i in range(100)) if _best(p, "w1", "w2") == "w1")
    w2 = FleetWatcher("w2", ("*",), T)
    w2.reset(0)
    w2.synced = True
    w2.on_status(peer, LOST, 0, 0)
    assert [r.state for r in w2.evaluate(1, 1)] == [State.CRITICAL]  # alone: w2 reports
    w2.on_status("w1", watcher_status("*", claims=frozenset({peer})), 2, 2)  # w1 is back and claims it
    out = w2.evaluate(2, 2)
    assert [(r.check, r.state) for r in out] == [(f"fleet.{peer}", State.OK)]
    assert "reported by w1" in out[0].summary
    assert w2.claims == frozenset()


def test_clean_restart_is_not_an_alert_but_a_stop_is() -> None:
    """A clean stop gets one timeout of grace (a restart); not back by then: CRITICAL."""
    f = Fleet("w1")
    f.status("p", ONLINE)
    f.status("p", SHUTDOWN)
    assert f.tick(T - 1) == []
    f.status("p", ONLINE)
    assert f.tick(1) == []
    f.status("p", SHUTDOWN)
    assert f.tick(T) == [("w1", "fleet.p", State.CRITICAL)]


def test_nothing_is_judged_before_the_retained_statuses_arrived() -> None:
    """Between (re)subscribing and the end of the retained statuses, a watcher only listens."""
    w = FleetWatcher("w1", ("*",), T)
    w.reset(0)
    w.on_status("p", LOST, 0, 0)
    assert w.evaluate(100, 100) == []
    w.synced = True
    assert [r.state for r in w.evaluate(100, 100)] == [State.CRITICAL]


def test_a_host_leaving_the_fleet_closes_its_report() -> None:
    """Clearing a host's retained status (decommissioned) resolves what was reported for it."""
    f = Fleet("w1")
    f.status("p", LOST)
    assert f.tick() == [("w1", "fleet.p", State.CRITICAL)]
    f.status("p", None)
    assert f.tick() == [("w1", "fleet.p", State.OK)]
    assert "p" not in f.watchers["w1"].views


def test_patterns_limit_what_is_reported() -> None:
    """A watcher of db-* reports nothing about web-1, but still counts as a watcher for db-1."""
    w = FleetWatcher("w1", ("db-*",), T)
    w.reset(0)
    w.synced = True
    w.on_status("web-1", LOST, 0, 0)
    w.on_status("db-1", LOST, 0, 0)
    assert [r.check for r in w.evaluate(1, 1)] == ["fleet.db-1"]


def test_silence_is_measured_from_the_last_heartbeat_not_from_infinity() -> None:
    """A view never heard of before the subscription starts its clock at the subscription."""
    w = FleetWatcher("w1", ("*",), T)
    w.reset(500)
    w.synced = True
    w.on_status("p", ONLINE, 500, 500)
    assert w.views["p"].last_seen == 500
    assert w.evaluate(529, 529) == []
    assert [r.state for r in w.evaluate(530, 530)] == [State.CRITICAL]
    assert not math.isinf(w.views["p"].last_seen)
