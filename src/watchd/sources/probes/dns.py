"""`dns`: resolve a name and check the answer, against a given server or the system resolver.

With `server`, a query goes straight to it over UDP (retried once within the time budget; retried over
TCP if the answer is truncated), so any record type in `dnswire.TYPES` works and the rcode is exact.
Without it, A/AAAA go through the system resolver (`getaddrinfo`, as applications resolve).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchd.core.clock import Clock
from watchd.core.model import State
from watchd.nagios.range import Thresholds
from watchd.plugin import worst
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.probes.base import Probe
from watchd.sources.probes.dnswire import (
    TYPES,
    DnsWireError,
    Response,
    build_query,
    encode_name,
    parse_response,
)
from watchd.sources.verdict import Figure, Verdict, seconds

RCODE_TEXT = {
    "NXDOMAIN": "name does not exist (NXDOMAIN)",
    "SERVFAIL": "server failure (SERVFAIL)",
    "REFUSED": "query refused (REFUSED: recursion not allowed for us?)",
    "FORMERR": "server could not parse the query (FORMERR)",
    "NOTIMP": "query type not implemented by the server (NOTIMP)",
}


@dataclass(frozen=True, slots=True)
class DnsSpec:
    name: str
    record: str = "A"
    server: tuple[str, int] | None = None
    expect: tuple[str, ...] = ()
    time: Thresholds = field(default_factory=Thresholds)
    timeout: float | None = None

    @property
    def via(self) -> str:
        if self.server is None:
            return "system resolver"
        host, port = self.server
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class DnsOutcome:
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL, ...
    values: tuple[str, ...]  # answers of the asked type
    time_s: float
    others: tuple[str, ...] = ()  # other records in the answer (the CNAME chain), for the long output


def normalise(record: str, value: str) -> str:
    """Comparable form: addresses canonical, names lower case with the root dot, MX without preference."""
    value = value.strip()
    if record in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    if record == "TXT":
        return value
    if record == "MX":
        value = value.split()[-1] if value else value
    return value.lower().rstrip(".") + "."


def evaluate_dns(o: DnsOutcome, s: DnsSpec) -> Verdict:
    time_fig = Figure("time", o.time_s, f"answer time {seconds(o.time_s)}", "s", s.time, 0)
    perf = (time_fig.perf, Figure("answers", len(o.values), "", "", Thresholds(), 0).perf)
    lines = [f"{s.name} {s.record} {v}" for v in o.values] + list(o.others)
    where = f"from {s.via}"
    if o.rcode != "NOERROR":
        text = f"{s.name} {s.record}: {RCODE_TEXT.get(o.rcode, o.rcode)} {where}"
        return Verdict(State.CRITICAL, text, perf, "\n".join(lines), reason=o.rcode)
    if not o.values:
        text = f"no {s.record} records for {s.name} (NODATA) {where}"
        return Verdict(State.CRITICAL, text, perf, "\n".join(lines), reason="NODATA")
    faults: list[tuple[State, str]] = []
    got = {normalise(s.record, v) for v in o.values}
    missing = [e for e in s.expect if normalise(s.record, e) not in got]
    if missing:
        faults.append(
            (State.CRITICAL, f"expected {', '.join(missing)} not in the answer ({_list(o.values)})")
        )
    if time_fig.state is not State.OK:
        faults.append((time_fig.state, time_fig.problem_text()))
    if faults:
        return Verdict(
            worst(*(st for st, _ in faults)), ", ".join(t for _, t in faults), perf, "\n".join(lines)
        )
    ok = f"{s.name} {s.record} {_list(o.values)} in {seconds(o.time_s)} {where}"
    return Verdict(State.OK, ok, perf, "\n".join(lines))


def _list(values: tuple[str, ...], limit: int = 5) -> str:
    return ", ".join(values[:limit]) + (f" and {len(values) - limit} more" if len(values) > limit else "")


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)
        self.error: Exception | None = None

    def datagram_received(self, data: bytes, addr: Any) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.replies.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.error = exc  # e.g. ICMP port unreachable: nothing listens on the server port
        with contextlib.suppress(asyncio.QueueFull):
            self.replies.put_nowait(b"")


async def query_udp(server: tuple[str, int], query: bytes, qid: int, limit: float) -> Response:
    """Send, wait half the budget, send again, wait the rest; only a reply with our id counts."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Collector, remote_addr=server)
    try:
        deadline = loop.time() + limit
        for attempt in range(2):
            transport.sendto(query)
            until = loop.time() + limit / 2 if attempt == 0 else deadline
            while (left := until - loop.time()) > 0:
                try:
                    data = await asyncio.wait_for(proto.replies.get(), left)
                except TimeoutError:
                    break
                if not data and proto.error is not None:
                    raise proto.error  # OSError, e.g. ConnectionRefusedError
                with contextlib.suppress(DnsWireError):
                    response = parse_response(data)
                    if response.id == qid:
                        return response
        raise TimeoutError
    finally:
        transport.close()


async def query_tcp(server: tuple[str, int], query: bytes, qid: int) -> Response:
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(struct.pack("!H", len(query)) + query)
        await writer.drain()
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        response = parse_response(await reader.readexactly(length))
        if response.id != qid:
            raise DnsWireError("answer id does not match the query")
        return response
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def outcome_from(resp: Response, record: str, time_s: float) -> DnsOutcome:
    values = tuple(a.value for a in resp.answers if a.rtype == record)
    others = tuple(f"{a.name} {a.rtype} {a.value}" for a in resp.answers if a.rtype != record)
    return DnsOutcome(resp.rcode_name, values, time_s, others)


_GAI_RCODE = {
    socket.EAI_NONAME: "NXDOMAIN",
    getattr(socket, "EAI_NODATA", -5): "NOERROR",  # name exists, no address of that family
    socket.EAI_AGAIN: "SERVFAIL",  # temporary failure: the resolver got no usable answer
}


class DnsProbe(Probe):
    kind = "DNS"

    def __init__(self, name: str, spec: DnsSpec, *, clock: Clock | None = None) -> None:
        super().__init__(name, clock=clock)
        self.spec = spec

    def own_timeout(self) -> float | None:
        return self.spec.timeout

    async def probe(self, limit: float, t0: float) -> Verdict:
        s = self.spec
        try:
            async with asyncio.timeout(limit):
                outcome = await (self._direct(limit) if s.server else self._system())
            verdict = evaluate_dns(outcome, s)
        except TimeoutError:
            verdict = _critical(f"timed out after {limit:g}s waiting for {s.name} {s.record} from {s.via}")
        except ConnectionRefusedError:
            verdict = _critical(f"connection refused by {s.via} (no DNS server listening)")
        except DnsWireError as exc:
            verdict = _critical(f"bad answer from {s.via}: {exc}")
        except OSError as exc:
            verdict = _critical(f"cannot query {s.via}: {exc.strerror or exc}")
        return verdict

    async def _direct(self, limit: float) -> DnsOutcome:
        s = self.spec
        assert s.server is not None
        qid = secrets.randbits(16)  # unpredictable ids: a spoofed answer must guess it
        query = build_query(qid, s.name, s.record)
        t0 = self.clock.monotonic()
        resp = await query_udp(s.server, query, qid, limit)
        if resp.truncated:
            resp = await query_tcp(s.server, build_query(qid, s.name, s.record, edns=False), qid)
        return outcome_from(resp, s.record, self.clock.monotonic() - t0)

    async def _system(self) -> DnsOutcome:
        s = self.spec
        family = socket.AF_INET6 if s.record == "AAAA" else socket.AF_INET
        t0 = self.clock.monotonic()
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(s.name, None, family=family, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            rcode = _GAI_RCODE.get(exc.errno)
            if rcode is None:
                raise OSError(exc.errno, f"resolver error: {exc.strerror}") from None
            if rcode == "NXDOMAIN":
                # glibc says "no such name" when only this family is missing (localhost has no AAAA
                # in /etc/hosts): if the name has any address at all, this is NODATA.
                with contextlib.suppress(socket.gaierror):
                    await loop.getaddrinfo(s.name, None, type=socket.SOCK_STREAM)
                    rcode = "NOERROR"
            return DnsOutcome(rcode, (), self.clock.monotonic() - t0)
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        return DnsOutcome("NOERROR", addresses, self.clock.monotonic() - t0)


def _critical(text: str) -> Verdict:
    return Verdict(State.CRITICAL, text, reason=text)


def parse_server(text: str) -> tuple[str, int]:
    """`192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353` -> (address, port)."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"expected [address]:port, got {text!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        port = int(p)
    ipaddress.ip_address(host)  # a resolver address, not a name: resolving it would need DNS
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return host, port


@register("dns")
def build_dns(name: str, params: Mapping[str, Any], ctx: BuildContext) -> DnsProbe:
    p = Params(params)
    qname = p.required_text("name").strip()
    record = (p.text("record", "A") or "A").upper()
    if record not in TYPES:
        raise p.error("record", f"expected one of {', '.join(TYPES)}, got {record!r}")
    server_text = p.text("server")
    server = None
    if server_text is not None:
        try:
            server = parse_server(server_text)
        except ValueError as exc:
            raise p.error("server", f"expected an IP address with an optional port: {exc}") from None
    elif record not in ("A", "AAAA"):
        raise p.error("server", f"record {record} needs a server (the system resolver only gives A and AAAA)")
    spec = DnsSpec(
        name=qname,
        record=record,
        server=server,
        expect=p.text_list("expect"),
        time=p.thresholds("warning", "critical"),
        timeout=p.optional_number("timeout", min=0.001),
    )
    try:
        encode_name(qname)
    except (DnsWireError, UnicodeError) as exc:
        raise p.error("name", str(exc)) from None
    p.done()
    return DnsProbe(name, spec)
