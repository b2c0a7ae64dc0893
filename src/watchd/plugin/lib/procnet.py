"""Listening sockets from /proc/net/{tcp,tcp6,udp,udp6}, without root and without psutil.

Each line is `sl local_address rem_address st ...` with addresses as hex: IPv4 is one 32-bit word and IPv6
four, each printed in host byte order, and the port in network order. A TCP socket listens in state 0A;
a UDP socket "listens" when it is bound and unconnected (remote address and port all zero).

Expectations are written `tcp/22`, `udp/53`, `tcp6/443` or with an address: `tcp/127.0.0.1:3306`,
`tcp/[::1]:25`. A listener on a wildcard address (0.0.0.0, ::) serves every address of its family, and ::
is taken to serve IPv4 too (Linux's default, net.ipv6.bindv6only=0).
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TCP_LISTEN = "0A"
FILES = {"tcp": ("tcp", 4), "tcp6": ("tcp", 6), "udp": ("udp", 4), "udp6": ("udp", 6)}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True, order=True)
class Listener:
    proto: str  # "tcp" or "udp"
    family: int  # 4 or 6
    address: IPAddress
    port: int

    def __str__(self) -> str:
        host = f"[{self.address}]" if self.family == 6 else str(self.address)
        return f"{self.proto}{'6' if self.family == 6 else ''}/{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        if isinstance(self.address, ipaddress.IPv6Address) and self.address.ipv4_mapped:
            return self.address.ipv4_mapped.is_loopback
        return self.address.is_loopback


def decode_address(text: str, byteorder: str = sys.byteorder) -> tuple[IPAddress, int]:
    """`0100007F:0016` -> (127.0.0.1, 22) on a little-endian host."""
    hexaddr, _, hexport = text.partition(":")
    raw = bytes.fromhex(hexaddr)
    if byteorder == "little":  # each 32-bit word was printed as a host-order integer
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address: IPAddress = ipaddress.IPv4Address(raw) if len(raw) == 4 else ipaddress.IPv6Address(raw)
    return address, int(hexport, 16)


def parse_table(text: str, proto: str, family: int, byteorder: str = sys.byteorder) -> list[Listener]:
    out: list[Listener] = []
    for line in text.splitlines()[1:]:  # first line is the header
        fields = line.split()
        if len(fields) < 4:
            continue
        local, remote, st = fields[1], fields[2], fields[3]
        if proto == "tcp":
            if st != TCP_LISTEN:
                continue
        else:
            raddr, rport = decode_address(remote, byteorder)
            if rport != 0 or not raddr.is_unspecified:
                continue  # connected UDP socket: a client, not a service
        address, port = decode_address(local, byteorder)
        out.append(Listener(proto, family, address, port))
    return out


def read_listeners(proc_root: Path = Path("/proc")) -> tuple[set[Listener], list[str]]:
    """Listeners in this network namespace, and the tables that could not be read (IPv6 disabled)."""
    listeners: set[Listener] = set()
    missing: list[str] = []
    for name, (proto, family) in FILES.items():
        try:
            text = (proc_root / "net" / name).read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            missing.append(name)
            continue
        listeners.update(parse_table(text, proto, family))
    return listeners, missing


@dataclass(frozen=True, slots=True)
class Expectation:
    proto: str  # "tcp" or "udp"
    family: int | None  # None: either family
    address: IPAddress | None  # None: any address
    port: int
    text: str

    @classmethod
    def parse(cls, text: str) -> Expectation:
        """`tcp/22`, `udp6/53`, `tcp/127.0.0.1:5432`, `tcp/[::1]:25`; ValueError with the reason."""
        spec = text.strip()
        proto, slash, rest = spec.partition("/")
        proto = proto.lower()
        if not slash or proto not in ("tcp", "udp", "tcp4", "udp4", "tcp6", "udp6"):
            raise ValueError(f"invalid listener {spec!r}: expected PROTO/[ADDRESS:]PORT, e.g. tcp/22")
        family = int(proto[3]) if len(proto) == 4 else None
        address: IPAddress | None = None
        port_text = rest
        if rest.startswith("["):
            host, sep, port_text = rest[1:].partition("]:")
            if not sep:
                raise ValueError(f"invalid listener {spec!r}: expected [ADDRESS]:PORT")
            address = _address(host, spec)
        elif ":" in rest:
            host, _, port_text = rest.rpartition(":")
            address = _address(host, spec)
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise ValueError(f"invalid listener {spec!r}: port must be 1..65535")
        if address is not None:
            if family is not None and family != address.version:
                raise ValueError(f"invalid listener {spec!r}: address is not IPv{family}")
            family = family or address.version
        return cls(proto[:3], family, address, int(port_text), spec)

    def satisfied_by(self, listener: Listener) -> bool:
        if listener.proto != self.proto or listener.port != self.port:
            return False
        if self.address is None:
            # A wildcard :: listener also takes IPv4 connections (bindv6only=0), so it satisfies tcp4/N.
            dual = listener.family == 6 and listener.address.is_unspecified
            return self.family is None or listener.family == self.family or dual
        if listener.address == self.address:
            return True
        if listener.address.is_unspecified:
            # 0.0.0.0 serves all IPv4 addresses; :: serves IPv6 and (bindv6only=0) IPv4 as well.
            return listener.family == self.address.version or listener.family == 6
        return False

    def __str__(self) -> str:
        return self.text


def _address(host: str, spec: str) -> IPAddress:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"invalid listener {spec!r}: {host!r} is not an IP address") from None


@dataclass(frozen=True, slots=True)
class Comparison:
    missing: list[Expectation]
    unexpected: list[Listener]


def compare(
    expected: list[Expectation],
    listeners: set[Listener],
    ignore: Sequence[Expectation] = (),
    include_loopback: bool = False,
) -> Comparison:
    """Expectations no listener satisfies; listeners no expectation (or ignore entry) accounts for.

    Loopback listeners are left out of `unexpected` unless asked: they are not reachable from outside.
    """
    missing = [e for e in expected if not any(e.satisfied_by(lst) for lst in listeners)]
    known = [*expected, *ignore]
    unexpected = sorted(
        lst
        for lst in listeners
        if (include_loopback or not lst.loopback) and not any(e.satisfied_by(lst) for e in known)
    )
    return Comparison(missing, unexpected)
