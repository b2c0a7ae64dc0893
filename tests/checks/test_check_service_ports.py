"""check_service_ports: listeners from a prepared /proc/net and from real sockets."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from checkhelpers import RunCheck

from watchd.core.model import State
from watchd.plugin.lib.procnet import Expectation, Listener, compare, decode_address, read_listeners

little_endian = pytest.mark.skipif(
    sys.byteorder != "little", reason="fixture text is from a little-endian host"
)

HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
TAIL = " 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0\n"
Z6 = "0" * 32
# As a little-endian kernel prints them: 0.0.0.0:22 and 127.0.0.1:3306 listening, an established
# 10.0.0.10:22 <- 10.0.0.2 connection; ::, ::1 and ::ffff:127.0.0.1 listeners; UDP bound sockets and
# one connected UDP client socket.
TCP = (
    HEAD
    + f"   0: 00000000:0016 00000000:0000 0A{TAIL}"
    + f"   1: 0100007F:0CEA 00000000:0000 0A{TAIL}"
    + f"   2: 0A00000A:0016 0200000A:D431 01{TAIL}"
)
TCP6 = (
    HEAD
    + f"   0: {Z6}:0050 {Z6}:0000 0A{TAIL}"
    + f"   1: 00000000000000000000000001000000:0019 {Z6}:0000 0A{TAIL}"
    + f"   2: 0000000000000000FFFF00000100007F:1F90 {Z6}:0000 0A{TAIL}"
    + f"   3: 00000000000000000000000001000000:1F91 00000000000000000000000001000000:D000 01{TAIL}"
)
UDP = (
    HEAD
    + f" 100: 00000000:0035 00000000:0000 07{TAIL}"
    + f" 101: 0100007F:0143 00000000:0000 07{TAIL}"
    + f" 102: 0A00000A:A1B2 08080808:0035 01{TAIL}"
)
UDP6 = HEAD + f" 200: {Z6}:14E9 {Z6}:0000 07{TAIL}"


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    net = tmp_path / "proc" / "net"
    net.mkdir(parents=True)
    for name, text in (("tcp", TCP), ("tcp6", TCP6), ("udp", UDP), ("udp6", UDP6)):
        (net / name).write_text(text)
    return tmp_path / "proc"


@little_endian
def test_parse_fake_proc(proc: Path) -> None:
    """Listening TCP and bound unconnected UDP sockets are found; connections are not."""
    listeners, missing = read_listeners(proc)
    assert missing == []
    assert sorted(map(str, listeners)) == [
        "tcp/0.0.0.0:22",
        "tcp/127.0.0.1:3306",
        "tcp6/[::1]:25",
        "tcp6/[::]:80",
        "tcp6/[::ffff:7f00:1]:8080",
        "udp/0.0.0.0:53",
        "udp/127.0.0.1:323",
        "udp6/[::]:5353",
    ]


@little_endian
def test_all_expected_present(proc: Path, run_check: RunCheck) -> None:
    """Every expected listener present: OK, with counts in perfdata."""
    run = run_check("check_service_ports", "--proc-root", proc, "--expect", "tcp/22,tcp/80", "-e", "udp/53")
    assert run.state is State.OK
    assert run.summary == "PORTS OK - all 3 expected listeners present"
    assert run.value("listening") == 8
    assert run.value("missing") == 0


@little_endian
def test_missing_is_critical(proc: Path, run_check: RunCheck) -> None:
    """Missing listeners are CRITICAL and named in the summary."""
    run = run_check("check_service_ports", "--proc-root", proc, "--expect", "tcp/25,tcp/443,udp/67")
    assert run.state is State.CRITICAL
    assert run.summary == "PORTS CRITICAL - missing tcp/443, udp/67"
    assert run.value("missing") == 2


@little_endian
@pytest.mark.parametrize(
    ("spec", "present"),
    [
        ("tcp/127.0.0.1:22", True),
        ("tcp/10.0.0.10:3306", False),
        ("tcp/[::1]:80", True),
        ("tcp4/80", True),
        ("tcp/192.0.2.1:80", True),
        ("tcp6/22", False),
        ("tcp/[::1]:25", True),
        ("tcp/127.0.0.1:25", False),
        ("udp/22", False),
        ("udp6/53", False),
        ("tcp/8080", True),
    ],
    ids=[
        "0.0.0.0 serves a specific IPv4 address",
        "loopback listener does not serve another address",
        ":: serves ::1",
        ":: serves IPv4 (dual stack)",
        ":: serves any IPv4 address",
        "IPv4-only listener is not tcp6",
        "exact IPv6 address",
        "::1 is not 127.0.0.1",
        "protocol must match",
        "IPv4 UDP listener is not udp6",
        "v4-mapped listener counts for the port",
    ],
)
def test_expectation_matching(proc: Path, spec: str, present: bool) -> None:
    """Address-specific expectations follow wildcard and dual-stack rules."""
    listeners, _ = read_listeners(proc)
    result = compare([Expectation.parse(spec)], listeners)
    assert (result.missing == []) is present


@little_endian
def test_unexpected_listeners(proc: Path, run_check: RunCheck) -> None:
    """--unexpected-warn: non-loopback listeners not expected nor ignored are WARNING."""
    base = ("check_service_ports", "--proc-root", proc, "--expect", "tcp/22", "--unexpected-warn")
    run = run_check(*base)
    assert run.state is State.WARNING
    assert (
        run.summary == "PORTS WARNING - all 1 expected listeners present; unexpected tcp/80, udp/53, udp/5353"
    )
    assert "unexpected: tcp6/[::]:80" in run.long_output
    assert run_check(*base, "--ignore", "udp/53,udp/5353", "--ignore", "tcp/80").state is State.OK
    loud = run_check(*base, "--ignore", "udp/53,udp/5353,tcp/80", "--include-loopback")
    assert loud.summary.endswith("unexpected tcp/25, tcp/3306, tcp/8080, udp/323")


@little_endian
def test_missing_tables(proc: Path, run_check: RunCheck) -> None:
    """A host without IPv6 lacks tcp6/udp6: noted, not an error; no table at all is UNKNOWN."""
    (proc / "net" / "tcp6").unlink()
    (proc / "net" / "udp6").unlink()
    run = run_check("check_service_ports", "--proc-root", proc, "--expect", "tcp/22")
    assert run.state is State.OK
    assert "net/tcp6 not available" in run.long_output
    for name in ("tcp", "udp"):
        (proc / "net" / name).unlink()
    assert run_check("check_service_ports", "--proc-root", proc, "--expect", "tcp/22").state is State.UNKNOWN


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for s in opened:
        s.close()


def _ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_real_sockets(sockets: list[socket.socket], run_check: RunCheck) -> None:
    """Sockets this test opens are seen in the real /proc; closing one makes it missing."""
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    bound_only = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # bound, never listening
    bound_only.bind(("127.0.0.1", 0))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # connected UDP: a client
    client.bind(("127.0.0.1", 0))
    client.connect(("127.0.0.1", udp.getsockname()[1]))
    sockets.extend([tcp, udp, bound_only, client])
    expect = [f"tcp/127.0.0.1:{tcp.getsockname()[1]}", f"udp/{udp.getsockname()[1]}"]
    if _ipv6():
        tcp6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        tcp6.bind(("::1", 0))
        tcp6.listen()
        sockets.append(tcp6)
        expect.append(f"tcp6/[::1]:{tcp6.getsockname()[1]}")

    run = run_check("check_service_ports", "--expect", ",".join(expect))
    assert run.state is State.OK, run.stdout

    absent = [f"tcp/{bound_only.getsockname()[1]}", f"udp/{client.getsockname()[1]}"]
    run = run_check("check_service_ports", "--expect", ",".join(absent))
    assert run.state is State.CRITICAL
    assert run.summary == f"PORTS CRITICAL - missing {', '.join(absent)}"

    tcp.close()
    run = run_check("check_service_ports", "--expect", ",".join(expect))
    assert run.state is State.CRITICAL
    assert run.summary == f"PORTS CRITICAL - missing {expect[0]}"


@pytest.mark.parametrize(
    ("text", "byteorder", "address", "port"),
    [
        ("0100007F:0016", "little", "127.0.0.1", 22),
        ("7F000001:0016", "big", "127.0.0.1", 22),
        ("00000000000000000000000001000000:01BB", "little", "::1", 443),
        ("00000000000000000000000000000001:01BB", "big", "::1", 443),
        ("B80D0120000000000000000001000000:0035", "little", "2001:db8::1", 53),
    ],
    ids=["ipv4 little", "ipv4 big", "ipv6 little", "ipv6 big", "ipv6 global little"],
)
def test_decode_address(text: str, byteorder: str, address: str, port: int) -> None:
    """Words are in host order, the port in network order."""
    assert decode_address(text, byteorder) == (ipaddress.ip_address(address), port)


@pytest.mark.parametrize(
    "spec",
    ["22", "tcp", "sctp/22", "tcp/0", "tcp/70000", "tcp/host:22", "tcp/[::1]22", "tcp4/[::1]:22", "tcp/x"],
    ids=[
        "no proto",
        "no port",
        "bad proto",
        "port 0",
        "port too big",
        "hostname",
        "no colon",
        "family",
        "nan",
    ],
)
def test_expectation_rejects(spec: str) -> None:
    """Malformed listener specs are refused with a reason."""
    with pytest.raises(ValueError, match="invalid listener"):
        Expectation.parse(spec)


def test_bad_arguments(run_check: RunCheck) -> None:
    """A bad --expect or no option at all exits 3 with the usage."""
    for args in (["--expect", "tcp/http"], []):
        run = run_check("check_service_ports", *args)
        assert run.state is State.UNKNOWN
        assert "usage: check_service_ports" in run.stdout


def test_listener_loopback() -> None:
    """Loopback detection covers IPv4-mapped IPv6 addresses."""
    mapped = Listener("tcp", 6, ipaddress.IPv6Address("::ffff:127.0.0.1"), 1)
    assert mapped.loopback
    assert not Listener("tcp", 4, ipaddress.IPv4Address("10.0.0.1"), 1).loopback
