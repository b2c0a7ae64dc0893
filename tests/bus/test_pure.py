"""The pure parts of the bus: topics, payloads, the offline buffer, backoff. No loop, no network."""

from __future__ import annotations

import json
import random

import pytest

from watchd.bus import payloads
from watchd.bus.buffer import Kind, Message, OfflineBuffer
from watchd.bus.topics import Topics, check_prefix, escape, unescape
from watchd.core.backoff import backoff
from watchd.core.model import CheckResult, CheckStatus, Incident, State, StateType

# -- topics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "level"),
    [
        pytest.param("load", "load", id="plain"),
        pytest.param("disk/var", "disk%2Fvar", id="slash"),
        pytest.param("a+b#c", "a%2Bb%23c", id="wildcards"),
        pytest.param("100%", "100%25", id="percent"),
        pytest.param("", "_", id="empty"),
    ],
)
def test_names_are_single_levels_that_round_trip(name: str, level: str) -> None:
    """A check or host name can never add a level or act as a wildcard, and decodes back."""
    assert escape(name) == level
    assert "/" not in level
    assert "+" not in level
    assert "#" not in level
    if name:
        assert unescape(level) == name


def test_topic_layout() -> None:
    """The documented layout under the prefix."""
    t = Topics("watchd/", "web-1")
    assert t.status == "watchd/web-1/status"
    assert t.heartbeat == "watchd/web-1/heartbeat"
    assert t.state("disk/var") == "watchd/web-1/check/disk%2Fvar/state"
    assert t.result("load") == "watchd/web-1/check/load/result"
    assert t.incident(7) == "watchd/web-1/incident/7"
    assert t.commands == "watchd/web-1/command/#"
    assert t.command_result == "watchd/web-1/command_result"
    assert t.all_status == "watchd/+/status"
    parsed = t.parse("watchd/db%2F1/check/disk%2Fvar/state")
    assert parsed is not None
    assert (parsed.host, parsed.kind, parsed.rest) == ("db/1", "check", ("disk/var", "state"))
    assert t.parse("other/web-1/status") is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [("watchd/", "watchd/"), ("watchd", "watchd/"), ("site/a/watchd/", "site/a/watchd/"), ("", "")],
)
def test_prefix_normalised(given: str, expected: str) -> None:
    """A prefix always ends with a slash (or is empty)."""
    assert check_prefix(given) == expected


@pytest.mark.parametrize("bad", ["watchd/+/", "a/#", "$SYS/"])
def test_prefix_rejects_wildcards_and_dollar(bad: str) -> None:
    """Wildcards and $-topics cannot be a prefix."""
    with pytest.raises(ValueError, match="must not"):
        check_prefix(bad)


# -- payloads -------------------------------------------------------------------------------------


def test_payloads_carry_schema_versions() -> None:
    """Every payload names its kind and version; the status round-trips through decode_status."""
    st = CheckStatus("load", State.WARNING, StateType.SOFT, 2, State.OK)
    inc = Incident("h", "load", "P2", "medium", "high", State.CRITICAL, "x", 1.0, 2.0, id=3)
    docs = {
        "state": payloads.check_state("h", st, 5.0),
        "result": payloads.check_result("h", CheckResult("load", State.OK, "fine", started_at=4.0)),
        "incident": payloads.incident("open", inc),
        "heartbeat": payloads.heartbeat("h", 1, 5.0, 10.0),
        "command_result": payloads.command_result("h", "run", True, "done", 5.0, "n"),
    }
    for kind, raw in docs.items():
        assert json.loads(raw)["schema"] == f"watchd.{kind}/v1"
    assert json.loads(docs["state"])["hard_state"] == "OK"
    assert json.loads(docs["incident"])["key"] == inc.key
    online = payloads.decode_status(payloads.status_online("h", "1", 0.0, 1.0, 10.0, ("web-*",), {"web-2"}))
    assert online == payloads.Status(True, "", 10.0, ("web-*",), frozenset({"web-2"}))
    will = payloads.decode_status(payloads.status_offline("h", "1", 0.0, payloads.REASON_LOST))
    assert will is not None
    assert not will.online
    assert will.reason == "connection lost"
    assert payloads.decode_status(b'{"schema":"other/v1","status":"online"}') is None
    assert payloads.decode_status(b"not json") is None


# -- the offline buffer ---------------------------------------------------------------------------


def r(n: int) -> Message:
    return Message(f"res/{n}", b"%d" % n, 0, False, Kind.RESULT)


def s(check: str, n: int) -> Message:
    return Message(f"state/{check}", b"%d" % n, 1, True, Kind.STATE, key=f"state:{check}")


def e(n: int) -> Message:
    return Message(f"inc/{n}", b"", 1, False, Kind.EVENT)


def drain(buf: OfflineBuffer) -> list[str]:
    out = []
    while (item := buf.peek()) is not None:
        out.append(item[1].topic + ("" if item[1].kind is not Kind.STATE else "=" + item[1].payload.decode()))
        buf.done(item[0])
    return out


@pytest.mark.parametrize(
    ("size", "puts", "sent", "dropped"),
    [
        pytest.param(10, [r(1), s("a", 1), e(1), r(2)], ["res/1", "state/a=1", "inc/1", "res/2"], {},
                     id="fifo when there is room"),
        pytest.param(10, [s("a", 1), s("b", 1), s("a", 2)], ["state/b=1", "state/a=2"], {},
                     id="states coalesce per check, newest moves to the back"),
        pytest.param(3, [r(1), r(2), r(3), r(4)], ["res/2", "res/3", "res/4"], {"result": 1},
                     id="full: the oldest result goes"),
        pytest.param(3, [r(1), s("a", 1), e(1), s("b", 1)], ["state/a=1", "inc/1", "state/b=1"],
                     {"result": 1}, id="full: a result goes before any state or event"),
        pytest.param(2, [s("a", 1), e(1), r(1)], ["state/a=1", "inc/1"], {"result": 1},
                     id="full of states and events: the incoming result is the oldest result"),
        pytest.param(2, [s("a", 1), e(1), e(2)], ["inc/1", "inc/2"], {"state": 1},
                     id="full of states and events: the oldest of them goes (still bounded)"),
        pytest.param(2, [s("a", 1), s("b", 1), s("a", 2), s("b", 2), s("a", 3)], ["state/b=2", "state/a=3"],
                     {}, id="coalescing never counts as a drop"),
    ],
)  # fmt: skip
def test_buffer_policy(size: int, puts: list[Message], sent: list[str], dropped: dict[str, int]) -> None:
    """Bounded; results are dropped first and counted; only the newest state per check is kept."""
    buf = OfflineBuffer(size)
    for m in puts:
        buf.put(m)
        assert len(buf) <= size
    assert drain(buf) == sent
    assert dict(buf.dropped) == dropped


def test_buffer_message_stays_until_done() -> None:
    """A message being published stays queued (a broken connection sends it again); a state replaced
    while in flight is not lost and its old ticket is a no-op."""
    buf = OfflineBuffer(10)
    buf.put(s("a", 1))
    seq, msg = buf.peek()  # type: ignore[misc]
    assert msg.payload == b"1"
    assert buf.peek() == (seq, msg)  # not taken by peeking
    buf.put(s("a", 2))  # replaced while "in flight"
    buf.done(seq)  # the old publish completes
    assert drain(buf) == ["state/a=2"]


def test_buffer_discard_and_many_results() -> None:
    """discard() removes a queued state; a long run of overflow stays O(1) and exact."""
    buf = OfflineBuffer(100)
    buf.put(Message("status", b"old", 1, True, Kind.STATE, key="status"))
    buf.discard("status")
    assert len(buf) == 0
    for n in range(10_000):
        buf.put(r(n))
    assert len(buf) == 100
    assert buf.dropped["result"] == 9_900
    assert drain(buf)[0] == "res/9900"


# -- reconnect backoff ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(0, 0.5, 1.0), (1, 1.0, 2.0), (3, 4.0, 8.0), (6, 30.0, 60.0), (50, 30.0, 60.0)],
)
def test_backoff_doubles_with_jitter_up_to_the_cap(attempt: int, low: float, high: float) -> None:
    """Equal jitter: in [cap/2, cap], cap = min(max, min * 2^attempt); min 1 s, max 60 s."""
    rng = random.Random(7)
    delays = [backoff(attempt, 1.0, 60.0, rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    assert max(delays) - min(delays) > (high - low) / 2  # really spread


def test_backoff_is_deterministic_with_a_seeded_rng() -> None:
    """The injected random.Random makes the schedule reproducible."""
    a = [backoff(i, 1, 60, random.Random(3)) for i in range(5)]
    b = [backoff(i, 1, 60, random.Random(3)) for i in range(5)]
    assert a == b


def test_buffer_ticket_withdraw_and_queued() -> None:
    """put gives the ticket peek will give; a withdrawn message is never sent, a done one is gone."""
    buf = OfflineBuffer(4)
    a = buf.put(Message("t/a", b"a", 1, False, Kind.EVENT))
    b = buf.put(Message("t/b", b"b", 1, False, Kind.EVENT))
    assert a is not None
    assert b is not None
    assert buf.peek() == (a, Message("t/a", b"a", 1, False, Kind.EVENT))
    buf.withdraw(a)
    assert (buf.queued(a), buf.queued(b)) == (False, True)
    peeked = buf.peek()
    assert peeked is not None
    assert peeked[0] == b
    buf.done(b)
    assert (buf.queued(b), buf.peek()) == (False, None)
