"""dns probe: the wire codec, and queries to a tiny UDP/TCP DNS responder on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from watchd.core.model import CheckResult, State
from watchd.nagios.range import Thresholds
from watchd.sources import SOURCE_TYPES, BuildContext
from watchd.sources.probes.dns import DnsOutcome, DnsSpec, evaluate_dns, normalise, parse_server
from watchd.sources.probes.dnswire import DnsWireError, build_query, encode_name, parse_response

# --- the responder: written independently of dnswire, so the codec is not tested against itself ----

A, NS, CNAME, MX, TXT, AAAA = 1, 2, 5, 15, 16, 28


def labels(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\x00"


def rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 300) -> bytes:
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


PTR_Q = b"\xc0\x0c"  # compression pointer to the question name at offset 12

ZONE: dict[tuple[str, int], list[bytes]] = {
    ("www.test", A): [rr(PTR_Q, A, bytes([192, 0, 2, 10])), rr(PTR_Q, A, bytes([192, 0, 2, 11]))],
    ("v6.test", AAAA): [rr(PTR_Q, AAAA, ipaddress.IPv6Address("2001:db8::1").packed)],
    ("test", MX): [rr(PTR_Q, MX, struct.pack("!H", 10) + labels("mail.test"))],
    ("test", TXT): [rr(PTR_Q, TXT, b"\x07v=spf1 \x04-all")],  # two character-strings, joined
    ("test", NS): [rr(PTR_Q, NS, labels("ns1.test"))],
    ("alias.test", CNAME): [rr(PTR_Q, CNAME, labels("www.test"))],
    ("alias.test", A): [
        rr(PTR_Q, CNAME, labels("www.test")),
        rr(labels("www.test"), A, bytes([192, 0, 2, 10])),
    ],
    ("big.test", A): [rr(PTR_Q, A, bytes([10, 0, i // 256, i % 256])) for i in range(100)],
    ("empty.test", A): [],
}
RCODE = {"nx.test": 3, "fail.test": 2, "refused.test": 5}


def answer(query: bytes, udp: bool) -> bytes | None:
    qid, _flags = struct.unpack("!HH", query[:4])
    pos, parts = 12, []
    while query[pos]:
        parts.append(query[pos + 1 : pos + 1 + query[pos]].decode())
        pos += 1 + query[pos]
    qtype = struct.unpack("!H", query[pos + 1 : pos + 3])[0]
    question = query[12 : pos + 5]
    name = ".".join(parts).lower()
    if name == "slow.test":
        return None
    records = ZONE.get((name, qtype), [])
    rcode = RCODE.get(name, 0 if any(n == name for n, _ in ZONE) else 3)
    truncated = udp and name == "big.test"
    if truncated:
        records = []
    flags = 0x8180 | rcode | (0x0200 if truncated else 0)
    return struct.pack("!HHHHHH", qid, flags, 1, len(records), 0, 0) + question + b"".join(records)


class Responder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.seen: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        assert self.transport is not None
        self.seen.append(data.hex())
        if b"\x05retry\x04test" in data and self.seen.count(data.hex()) == 1:
            return  # drop the first try: the probe must send again
        if b"\x05badid\x04test" in data:
            self.transport.sendto(b"\xff\xff" + (answer(data, True) or b"")[2:], addr)  # a stray answer first
            data = data.replace(b"\x05badid", b"\x03www")
        reply = answer(data.replace(b"\x05retry", b"\x03www"), udp=True)
        if reply is not None:
            self.transport.sendto(reply, addr)


async def tcp_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    (length,) = struct.unpack("!H", await reader.readexactly(2))
    reply = answer(await reader.readexactly(length), udp=False) or b""
    writer.write(struct.pack("!H", len(reply)) + reply)
    await writer.drain()
    writer.close()


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """UDP and TCP on the same port number (the TCP fallback goes to the same server address)."""
    loop = asyncio.get_running_loop()
    for _ in range(20):  # the UDP port's number may be taken for TCP: pick another
        tcp = await asyncio.start_server(tcp_answer, "127.0.0.1", 0)
        port = tcp.sockets[0].getsockname()[1]
        try:
            transport, _ = await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", port))
            break
        except OSError:
            tcp.close()
            await tcp.wait_closed()
    else:
        pytest.fail("no port free for both UDP and TCP")
    yield f"127.0.0.1:{port}"
    transport.close()
    tcp.close()
    await tcp.wait_closed()
    await asyncio.sleep(0)  # let the transport finish closing before the test's loop goes away


async def probe(ctx: BuildContext, check_timeout: float = 5.0, **params: Any) -> CheckResult:
    return await SOURCE_TYPES["dns"]("dns", params, ctx).run(check_timeout)


@pytest.mark.parametrize(
    ("name", "record", "expect", "values"),
    [
        pytest.param("www.test", "A", ["192.0.2.10"], "192.0.2.10, 192.0.2.11", id="A"),
        pytest.param("v6.test", "AAAA", ["2001:db8:0::1"], "2001:db8::1", id="AAAA"),
        pytest.param("test", "MX", ["mail.test"], "10 mail.test.", id="MX"),
        pytest.param("test", "TXT", ["v=spf1 -all"], "v=spf1 -all", id="TXT"),
        pytest.param("test", "NS", ["ns1.test."], "ns1.test.", id="NS"),
        pytest.param("alias.test", "CNAME", ["WWW.test"], "www.test.", id="CNAME"),
        pytest.param("alias.test", "A", ["192.0.2.10"], "192.0.2.10", id="A-through-CNAME"),
    ],
)
async def test_record_types(
    server: str, ctx: BuildContext, name: str, record: str, expect: list[str], values: str
) -> None:
    """Every supported type is asked, parsed and compared (case, root dot and address forms normalised)."""
    r = await probe(ctx, name=name, record=record, server=server, expect=expect)
    assert r.state is State.OK, r.summary
    assert f"{name} {record} {values} in" in r.summary
    assert {p.label for p in r.perfdata} == {"time", "answers"}


async def test_cname_chain_in_long_output(server: str, ctx: BuildContext) -> None:
    """The CNAME a name went through is shown in the long output."""
    r = await probe(ctx, name="alias.test", server=server)
    assert "alias.test. CNAME www.test." in r.long_output


@pytest.mark.parametrize(
    ("name", "words"),
    [
        pytest.param("nx.test", "name does not exist (NXDOMAIN)", id="NXDOMAIN"),
        pytest.param("fail.test", "server failure (SERVFAIL)", id="SERVFAIL"),
        pytest.param("refused.test", "query refused (REFUSED", id="REFUSED"),
        pytest.param("empty.test", "no A records for empty.test (NODATA)", id="NODATA"),
    ],
)
async def test_failures_are_named(server: str, ctx: BuildContext, name: str, words: str) -> None:
    """Each negative answer is CRITICAL and says which it was, and from which server."""
    r = await probe(ctx, name=name, server=server)
    assert r.state is State.CRITICAL
    assert words in r.summary
    assert f"from {server}" in r.summary


async def test_timeout(server: str, ctx: BuildContext) -> None:
    """No answer at all: timed out, naming the question and the server."""
    r = await probe(ctx, name="slow.test", server=server, timeout=0.4)
    assert r.state is State.CRITICAL
    assert f"timed out after 0.36s waiting for slow.test A from {server}" in r.summary


async def test_lost_query_is_retried(server: str, ctx: BuildContext) -> None:
    """A dropped UDP query is sent again within the time budget."""
    r = await probe(ctx, name="retry.test", server=server, timeout=1.0)
    assert r.state is State.OK, r.summary
    assert r.duration_s >= 0.45  # the retry waited half the budget


async def test_answer_with_wrong_id_is_ignored(server: str, ctx: BuildContext) -> None:
    """Only an answer carrying the query id counts (spoofing protection)."""
    r = await probe(ctx, name="badid.test", server=server)
    assert r.state is State.OK, r.summary


async def test_truncated_answer_retried_over_tcp(server: str, ctx: BuildContext) -> None:
    """A truncated UDP answer (TC) is asked again over TCP."""
    r = await probe(ctx, name="big.test", server=server)
    assert r.state is State.OK, r.summary
    assert {p.label: p.value for p in r.perfdata}["answers"] == 100


async def test_missing_expected_answer(server: str, ctx: BuildContext) -> None:
    """An expected address that is not in the answer is CRITICAL and lists what came."""
    r = await probe(ctx, name="www.test", server=server, expect=["192.0.2.99"])
    assert r.state is State.CRITICAL
    assert "expected 192.0.2.99 not in the answer (192.0.2.10, 192.0.2.11)" in r.summary


async def test_nothing_listening(ctx: BuildContext, free_port: int) -> None:
    """ICMP port unreachable on loopback is reported as refused, not as a timeout."""
    r = await probe(ctx, name="www.test", server=f"127.0.0.1:{free_port}", timeout=1.0)
    assert r.state is State.CRITICAL
    assert (
        r.summary == f"DNS CRITICAL - connection refused by 127.0.0.1:{free_port} (no DNS server listening)"
    )


async def test_system_resolver(ctx: BuildContext) -> None:
    """Without `server`, A goes through getaddrinfo (localhost comes from /etc/hosts: no network)."""
    r = await probe(ctx, name="localhost", expect=["127.0.0.1"])
    assert r.state is State.OK, r.summary
    assert "from system resolver" in r.summary


async def test_system_resolver_nodata_vs_nxdomain(ctx: BuildContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with addresses of the other family only is NODATA, a name with none at all NXDOMAIN."""

    def fake(host: str, port: Any, family: int = 0, *args: Any, **kw: Any) -> Any:
        if host == "v4only.test" and family != socket.AF_INET6:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 0))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    r = await probe(ctx, name="v4only.test", record="AAAA")
    assert r.summary == "DNS CRITICAL - no AAAA records for v4only.test (NODATA) from system resolver"
    r = await probe(ctx, name="nothing.test", record="AAAA")
    assert (
        r.summary == "DNS CRITICAL - nothing.test AAAA: name does not exist (NXDOMAIN) from system resolver"
    )


# --- pure parts --------------------------------------------------------------------------------------


def test_query_layout() -> None:
    """Header with RD set, one question, one EDNS0 OPT record advertising 1232 bytes."""
    q = build_query(0x1234, "www.example.com", "MX")
    assert q[:12] == bytes.fromhex("1234 0100 0001 0000 0000 0001")
    assert q[12:29] == b"\x03www\x07example\x03com\x00"
    assert q[29:33] == b"\x00\x0f\x00\x01"
    assert q[33:] == b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x00" * 5, id="short"),
        pytest.param(bytes.fromhex("0001 0100 0000 0000 0000 0000"), id="not-a-response"),
        pytest.param(bytes.fromhex("0001 8180 0000 0001 0000 0000") + b"\xc0\x0c", id="pointer-loop"),
        pytest.param(
            bytes.fromhex("0001 8180 0000 0001 0000 0000") + b"\x00\x00\x01\x00\x01\x00\x00\x00\x01\x00\x09",
            id="rdata-past-end",
        ),
    ],
)
def test_malformed_responses(data: bytes) -> None:
    """Broken answers raise DnsWireError, never IndexError or a loop."""
    with pytest.raises(DnsWireError):
        parse_response(data)


@pytest.mark.parametrize("name", ["a" * 64 + ".test", "a..b", ".".join(["abcdefgh"] * 40)])
def test_bad_names(name: str) -> None:
    """Over-long labels, empty labels and over-long names are refused."""
    with pytest.raises(DnsWireError):
        encode_name(name)


@pytest.mark.parametrize(
    ("text", "addr"),
    [
        ("192.0.2.53", ("192.0.2.53", 53)),
        ("192.0.2.53:5353", ("192.0.2.53", 5353)),
        ("2001:db8::53", ("2001:db8::53", 53)),
        ("[2001:db8::53]:5353", ("2001:db8::53", 5353)),
    ],
)
def test_parse_server(text: str, addr: tuple[str, int]) -> None:
    """IPv4 and IPv6, with and without a port."""
    assert parse_server(text) == addr


@pytest.mark.parametrize(
    ("record", "a", "b"),
    [
        ("A", "192.0.2.1", "192.0.2.1"),
        ("AAAA", "2001:DB8:0:0::1", "2001:db8::1"),
        ("MX", "10 Mail.Test.", "mail.test"),
        ("CNAME", "WWW.test", "www.test."),
        ("TXT", "Case Kept", "Case Kept"),
    ],
)
def test_normalise(record: str, a: str, b: str) -> None:
    """Answers and expectations compare in canonical form."""
    assert normalise(record, a) == normalise(record, b)


def test_evaluate_dns_time_threshold() -> None:
    """A slow answer is judged against the time range."""
    v = evaluate_dns(DnsOutcome("NOERROR", ("192.0.2.1",), 0.3), DnsSpec("x", time=Thresholds("0.2", "1")))
    assert v.state is State.WARNING
    assert "answer time 0.300 s (warning 0.2)" in v.text
