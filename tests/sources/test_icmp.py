"""icmp probe: packets, evaluation, a real ping of 127.0.0.1, and the error when ICMP is not allowed."""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Any

import pytest

from watchd.core.model import State
from watchd.nagios.range import Thresholds
from watchd.sources import BuildContext
from watchd.sources.probes.icmp import (
    IcmpProbe,
    PingOutcome,
    PingSpec,
    checksum,
    echo_request,
    evaluate_ping,
    open_socket,
    parse_reply,
)


def _can_ping() -> str | None:
    """Which ICMP socket this machine allows, if any."""
    for kind, name in ((socket.SOCK_DGRAM, "datagram"), (socket.SOCK_RAW, "raw")):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
            return name
        except OSError:
            continue
    return None


async def test_ping_loopback(ctx: BuildContext) -> None:
    """127.0.0.1 answers every request; where no ICMP socket is allowed, the result says what to grant."""
    probe = IcmpProbe("ping", PingSpec("127.0.0.1", count=3, interval=0.05, wait=0.5))
    r = await probe.run(5.0)
    if _can_ping() is None:
        assert r.state is State.UNKNOWN
        assert "ping_group_range" in r.summary
        assert "CAP_NET_RAW" in r.summary
        return
    assert r.state is State.OK, r.summary
    assert r.summary.startswith("PING OK - 127.0.0.1: rta ")
    assert "packet loss 0% (3/3)" in r.summary
    perf = {p.label: p for p in r.perfdata}
    assert set(perf) == {"rta", "pl", "rtmin", "rtmax"}
    assert perf["pl"].value == 0
    rta = perf["rta"].value
    assert rta is not None
    assert 0 < rta < 100
    assert f"via {_can_ping()} ICMP socket" in r.long_output


async def test_ping_rtt_threshold(ctx: BuildContext) -> None:
    """An rtt range every reply breaks gives WARNING (where ICMP is allowed)."""
    if _can_ping() is None:
        pytest.skip("no ICMP socket allowed here (covered by test_ping_loopback)")
    probe = IcmpProbe("ping", PingSpec("127.0.0.1", count=2, interval=0.05, rtt=Thresholds("@0:1000")))
    r = await probe.run(5.0)
    assert r.state is State.WARNING
    assert "(warning @0:1000)" in r.summary


def _denied(family: int, kind: int, proto: int) -> socket.socket:
    raise PermissionError(13, "Permission denied")


async def test_no_icmp_permission_is_unknown(tmp_path: Path) -> None:
    """No ping socket and no raw socket: UNKNOWN naming ping_group_range (and its value) and CAP_NET_RAW."""
    rng = tmp_path / "ping_group_range"
    rng.write_text("1\t0\n")
    probe = IcmpProbe(
        "ping", PingSpec("127.0.0.1", count=1), socket_factory=_denied, ping_group_range=str(rng)
    )
    r = await probe.run(5.0)
    assert r.state is State.UNKNOWN
    assert "net.ipv4.ping_group_range is '1 0'" in r.summary
    assert "raw sockets need CAP_NET_RAW" in r.summary


def test_datagram_socket_preferred() -> None:
    """The unprivileged datagram socket is tried first; raw only when it is refused."""
    asked: list[int] = []

    def factory(family: int, kind: int, proto: int) -> Any:
        asked.append(kind)
        if kind == socket.SOCK_DGRAM:
            raise PermissionError(13, "Permission denied")
        return object()

    _, raw = open_socket(socket.AF_INET, factory)
    assert raw is True
    assert asked == [socket.SOCK_DGRAM, socket.SOCK_RAW]


async def test_schedule_must_fit_the_timeout() -> None:
    """count x interval longer than the check timeout is refused up front, with the numbers."""
    r = await IcmpProbe("ping", PingSpec("127.0.0.1", count=10, interval=1.0)).run(5.0)
    assert r.state is State.UNKNOWN
    assert "count 10 x interval 1s does not fit in the 4.9s timeout" in r.summary


def test_checksum_of_a_known_packet() -> None:
    """The RFC 1071 checksum; a packet including its checksum sums to zero."""
    packet = echo_request(socket.AF_INET, 0x1234, 7)
    assert checksum(packet) == 0
    assert struct.unpack("!BBHHH", packet[:8])[0::3] == (8, 0x1234)


def _reply(kind: int, ident: int, seq: int) -> bytes:
    return struct.pack("!BBHHH", kind, 0, 0, ident, seq) + b"payload"


IP_HEADER = bytes([0x45]) + bytes(19)


@pytest.mark.parametrize(
    ("family", "data", "raw", "seq"),
    [
        pytest.param(socket.AF_INET, IP_HEADER + _reply(0, 99, 3), True, 3, id="raw-v4-reply"),
        pytest.param(socket.AF_INET, IP_HEADER + _reply(0, 98, 3), True, None, id="raw-v4-other-id"),
        pytest.param(socket.AF_INET, IP_HEADER + _reply(8, 99, 3), True, None, id="raw-v4-own-request"),
        pytest.param(socket.AF_INET, _reply(0, 5555, 2), False, 2, id="dgram-v4-kernel-id"),
        pytest.param(socket.AF_INET6, _reply(129, 99, 1), True, 1, id="raw-v6-reply"),
        pytest.param(socket.AF_INET6, _reply(128, 99, 1), True, None, id="raw-v6-request"),
        pytest.param(socket.AF_INET, b"\x45\x00", True, None, id="short"),
    ],
)
def test_parse_reply(family: int, data: bytes, raw: bool, seq: int | None) -> None:
    """Only echo replies for this probe count (raw sockets see every ICMP packet on the host)."""
    assert parse_reply(family, data, raw, ident=99) == seq


@pytest.mark.parametrize(
    ("outcome", "state", "words"),
    [
        pytest.param(
            PingOutcome("192.0.2.1", 5, (1.0, 2.0, 3.0, 2.0, 2.0)),
            State.OK,
            "rta 2.000 ms, packet loss 0% (5/5)",
            id="ok",
        ),
        pytest.param(
            PingOutcome("192.0.2.1", 5, (1.0, 1.0, 1.0, 1.0)),
            State.OK,
            "packet loss 20%",
            id="20pct-is-the-warning-edge",
        ),
        pytest.param(
            PingOutcome("192.0.2.1", 5, (1.0, 1.0, 1.0)),
            State.WARNING,
            "packet loss 40% (warning 20)",
            id="loss-warning",
        ),
        pytest.param(
            PingOutcome("192.0.2.1", 5, (1.0,)),
            State.CRITICAL,
            "packet loss 80% (critical 60)",
            id="loss-critical",
        ),
        pytest.param(
            PingOutcome("192.0.2.1", 5, ()),
            State.CRITICAL,
            "unreachable: 100% packet loss (5 sent)",
            id="no-reply",
        ),
    ],
)
def test_evaluate_ping(outcome: PingOutcome, state: State, words: str) -> None:
    """Loss defaults: warning above 20%, critical above 60%; no reply at all is CRITICAL."""
    v = evaluate_ping(outcome, PingSpec("host.test"))
    assert v.state is state
    assert words in v.text
    assert v.text.startswith("host.test (192.0.2.1)")
