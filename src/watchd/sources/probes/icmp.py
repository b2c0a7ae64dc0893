"""`icmp`: echo requests to a host; packet loss and round-trip time.

Socket choice, most to least preferred: an unprivileged ICMP datagram socket (allowed when the daemon's
group is inside net.ipv4.ping_group_range; the kernel then handles ids and checksums), else a raw socket
(needs CAP_NET_RAW). With neither, the result is UNKNOWN and says which of the two to grant.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from watchd.core.clock import Clock
from watchd.core.model import PerfDatum, State
from watchd.nagios.range import Thresholds
from watchd.plugin import worst
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.probes.base import Probe
from watchd.sources.probes.tcp import family_param
from watchd.sources.verdict import Figure, Verdict

PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"  # governs IPv6 ping sockets too
ECHO: dict[int, tuple[int, int]] = {
    socket.AF_INET: (8, 0),
    socket.AF_INET6: (128, 129),
}  # (request type, reply type)
PROTO: dict[int, int] = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}
MAX_COUNT = 100

SocketFactory = Callable[[int, int, int], socket.socket]


class IcmpUnavailable(Exception):
    """No ICMP socket can be opened; the message says what to change."""


@dataclass(frozen=True, slots=True)
class PingSpec:
    host: str
    family: int = 0
    count: int = 5
    interval: float = 0.2
    wait: float = 1.0  # after the last request, for late replies
    rtt: Thresholds = field(default_factory=Thresholds)  # ms, on the average
    loss: Thresholds = field(default_factory=lambda: Thresholds("20", "60"))  # %
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class PingOutcome:
    address: str
    sent: int
    rtts_ms: tuple[float, ...]
    raw: bool = False  # which kind of socket was used, for the long output


def evaluate_ping(o: PingOutcome, s: PingSpec) -> Verdict:
    received = len(o.rtts_ms)
    loss = 100.0 * (o.sent - received) / o.sent if o.sent else 100.0
    loss_fig = Figure("pl", loss, f"packet loss {loss:.0f}%", "%", s.loss, 0, 100)
    target = s.host if s.host == o.address else f"{s.host} ({o.address})"
    line = f"{o.sent} sent, {received} received via {'raw' if o.raw else 'datagram'} ICMP socket"
    if not received:
        lost: tuple[PerfDatum, ...] = (PerfDatum("rta", None, "ms"), loss_fig.perf)
        return Verdict(State.CRITICAL, f"{target} unreachable: 100% packet loss ({o.sent} sent)", lost, line)
    avg = sum(o.rtts_ms) / received
    rta = Figure("rta", avg, f"rta {avg:.3f} ms", "ms", s.rtt, 0)
    perf: tuple[PerfDatum, ...] = (
        rta.perf,
        loss_fig.perf,
        PerfDatum("rtmin", round(min(o.rtts_ms), 6), "ms"),
        PerfDatum("rtmax", round(max(o.rtts_ms), 6), "ms"),
    )
    faults = [f.problem_text() for f in (loss_fig, rta) if f.state is not State.OK]
    state = worst(loss_fig.state, rta.state)
    summary = f"{target}: rta {avg:.3f} ms, packet loss {loss:.0f}% ({received}/{o.sent})"
    if faults:
        summary = f"{target}: {', '.join(faults)} ({received}/{o.sent} replies)"
    return Verdict(state, summary, perf, line)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(family: int, ident: int, seq: int) -> bytes:
    kind = ECHO[family][0]
    payload = b"watchd-ping-0123"
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family == socket.AF_INET:  # the kernel fills in the ICMPv6 checksum (it covers a pseudo-header)
        header = struct.pack("!BBHHH", kind, 0, checksum(header + payload), ident, seq)
    return header + payload


def parse_reply(family: int, data: bytes, raw: bool, ident: int) -> int | None:
    """The sequence number of an echo reply meant for us, else None."""
    if family == socket.AF_INET and raw:
        if len(data) < 20:
            return None
        data = data[(data[0] & 0x0F) * 4 :]  # raw IPv4 sockets deliver the IP header too
    if len(data) < 8:
        return None
    kind, _code, _sum, rid, seq = struct.unpack("!BBHHH", data[:8])
    if kind != ECHO[family][1]:
        return None
    if raw and rid != ident:
        return None  # a raw socket sees every ICMP packet; datagram sockets get only their own
    return int(seq)


def _ping_group_range(path: str) -> str:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip().replace("\t", " ")
    except OSError:
        return "unreadable"


def open_socket(
    family: int, factory: SocketFactory, range_path: str = PING_GROUP_RANGE
) -> tuple[socket.socket, bool]:
    """(socket, is_raw); IcmpUnavailable with what to grant when neither kind may be opened."""
    proto = PROTO[family]
    try:
        return factory(family, socket.SOCK_DGRAM, proto), False
    except OSError as dgram_error:
        try:
            return factory(family, socket.SOCK_RAW, proto), True
        except PermissionError:
            gid = os.getgid()
            raise IcmpUnavailable(
                f"cannot open an ICMP socket: unprivileged ping is not allowed for gid {gid} "
                f"(net.ipv4.ping_group_range is '{_ping_group_range(range_path)}': {dgram_error.strerror}) "
                "and raw sockets need CAP_NET_RAW; widen ping_group_range to include the daemon's group "
                "or grant CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW)"
            ) from None


class IcmpProbe(Probe):
    kind = "PING"

    def __init__(
        self,
        name: str,
        spec: PingSpec,
        *,
        clock: Clock | None = None,
        socket_factory: SocketFactory = socket.socket,
        ping_group_range: str = PING_GROUP_RANGE,
    ) -> None:
        super().__init__(name, clock=clock)
        self.spec = spec
        self.socket_factory = socket_factory
        self.ping_group_range = ping_group_range

    def own_timeout(self) -> float | None:
        return self.spec.timeout

    async def probe(self, limit: float, t0: float) -> Verdict:
        s = self.spec
        phase = [f"resolving {s.host}"]
        try:
            if (s.count - 1) * s.interval >= limit:
                raise IcmpUnavailable(
                    f"count {s.count} x interval {s.interval:g}s does not fit in the {limit:g}s timeout"
                )
            async with asyncio.timeout(limit):
                address, family = await self._resolve()
                phase[0] = f"pinging {address}"
                verdict = evaluate_ping(await self._ping(address, family, t0 + limit), s)
        except IcmpUnavailable as exc:
            verdict = Verdict(State.UNKNOWN, str(exc), reason=str(exc))
        except TimeoutError:
            verdict = _critical(f"timed out after {limit:g}s {phase[0]}")
        except socket.gaierror as exc:
            verdict = _critical(f"DNS failure: cannot resolve {s.host} ({exc.strerror})")
        except OSError as exc:
            verdict = _critical(f"cannot ping {s.host}: {exc.strerror or exc}")
        return verdict

    async def _resolve(self) -> tuple[str, int]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            self.spec.host, None, family=self.spec.family, type=socket.SOCK_RAW
        )
        family, _, _, _, sockaddr = next(i for i in infos if i[0] in ECHO)
        return str(sockaddr[0]), int(family)

    async def _ping(self, address: str, family: int, deadline: float) -> PingOutcome:
        s = self.spec
        loop = asyncio.get_running_loop()
        sock, raw = open_socket(family, self.socket_factory, self.ping_group_range)
        ident = secrets.randbits(16)
        sent: dict[int, float] = {}
        rtts: dict[int, float] = {}

        async def receive() -> None:
            while len(rtts) < s.count:
                data = await loop.sock_recv(sock, 4096)
                at = self.clock.monotonic()
                seq = parse_reply(family, data, raw, ident)
                if seq is not None and seq in sent and seq not in rtts:
                    rtts[seq] = (at - sent[seq]) * 1000.0

        with sock:
            sock.setblocking(False)
            receiver = asyncio.ensure_future(receive())
            try:
                for seq in range(s.count):
                    if seq:
                        await asyncio.sleep(s.interval)
                    sent[seq] = self.clock.monotonic()
                    await loop.sock_sendto(sock, echo_request(family, ident, seq), (address, 0))
                # Late replies may still come: wait up to `wait`, within the check's own deadline.
                wait = min(s.wait, deadline - self.clock.monotonic())
                if wait > 0:
                    await asyncio.wait({receiver}, timeout=wait)
                failed = receiver.exception() if receiver.done() else None
                if failed is not None:
                    raise failed
            finally:
                receiver.cancel()
        return PingOutcome(address, len(sent), tuple(rtts[k] for k in sorted(rtts)), raw)


def _critical(text: str) -> Verdict:
    return Verdict(State.CRITICAL, text, reason=text)


@register("icmp")
def build_icmp(name: str, params: Mapping[str, Any], ctx: BuildContext) -> IcmpProbe:
    p = Params(params)
    spec = PingSpec(
        host=p.required_text("host").strip(),
        family=family_param(p),
        count=p.integer("count", 5, min=1, max=MAX_COUNT),
        interval=p.number("interval", 0.2, min=0.01, max=10),
        wait=p.number("wait", 1.0, min=0.01, max=30),
        rtt=p.thresholds("rtt_warning", "rtt_critical"),
        loss=p.thresholds(
            "packet_loss_warning", "packet_loss_critical", warn_default="20", crit_default="60"
        ),
        timeout=p.optional_number("timeout", min=0.001),
    )
    p.done()
    return IcmpProbe(name, spec)
