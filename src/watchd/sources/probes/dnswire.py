"""A minimal DNS wire-format client codec (RFC 1035): one question, A/AAAA/MX/TXT/CNAME/NS answers.

Pure bytes in, bytes out; `dns.py` does the sending. Names in answers may use compression pointers;
loops and out-of-range pointers are rejected instead of followed forever.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
CLASS_IN = 1
OPT = 41
EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: no IP fragmentation, fewer truncated answers

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class DnsWireError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Answer:
    name: str
    rtype: str  # "A", "MX", ... or "TYPE<n>" for others
    ttl: int
    value: str  # A/AAAA address, MX "10 mail.example.", TXT joined strings, CNAME/NS target


@dataclass(frozen=True, slots=True)
class Response:
    id: int
    rcode: int
    truncated: bool
    authoritative: bool
    answers: tuple[Answer, ...]

    @property
    def rcode_name(self) -> str:
        return RCODES.get(self.rcode, f"RCODE{self.rcode}")


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        raw = label.encode("idna") if not label.isascii() else label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise DnsWireError(f"bad label {label!r} in {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise DnsWireError(f"name too long: {name!r}")
    return bytes(out)


def build_query(qid: int, name: str, rtype: str, edns: bool = True) -> bytes:
    """A recursive query (RD=1) for one name and type, with an EDNS0 OPT record unless `edns` is off."""
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    question = encode_name(name) + struct.pack("!HH", TYPES[rtype], CLASS_IN)
    opt = b"\x00" + struct.pack("!HHIH", OPT, EDNS_PAYLOAD, 0, 0) if edns else b""
    return header + question + opt


def _read_name(msg: bytes, pos: int) -> tuple[str, int]:
    """The name at `pos` and the position after it (after the first pointer, if any)."""
    labels: list[str] = []
    end: int | None = None
    jumps = 0
    while True:
        if pos >= len(msg):
            raise DnsWireError("name runs past the end")
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(msg):
                raise DnsWireError("truncated pointer")
            target = ((length & 0x3F) << 8) | msg[pos + 1]
            if end is None:
                end = pos + 2
            jumps += 1
            if jumps > 64 or target >= len(msg):
                raise DnsWireError("bad compression pointer")
            pos = target
            continue
        if length & 0xC0:
            raise DnsWireError("unsupported label type")
        pos += 1
        if length == 0:
            break
        labels.append(msg[pos : pos + length].decode("ascii", errors="replace"))
        pos += length
    return ".".join(labels) + ".", end if end is not None else pos


def _rdata(msg: bytes, rtype: int, start: int, end: int) -> str:
    data = msg[start:end]
    if rtype == 1:
        if len(data) != 4:
            raise DnsWireError("bad A record")
        return str(ipaddress.IPv4Address(data))
    if rtype == 28:
        if len(data) != 16:
            raise DnsWireError("bad AAAA record")
        return str(ipaddress.IPv6Address(data))
    if rtype in (2, 5):
        return _read_name(msg, start)[0]
    if rtype == 15:
        (pref,) = struct.unpack("!H", msg[start : start + 2])
        return f"{pref} {_read_name(msg, start + 2)[0]}"
    if rtype == 16:
        parts, pos = [], 0
        while pos < len(data):
            n = data[pos]
            parts.append(data[pos + 1 : pos + 1 + n].decode("utf-8", errors="replace"))
            pos += 1 + n
        return "".join(parts)
    return data.hex()


def parse_response(msg: bytes) -> Response:
    try:
        qid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    except struct.error:
        raise DnsWireError("response shorter than a DNS header") from None
    if not flags & 0x8000:
        raise DnsWireError("not a response (QR=0)")
    pos = 12
    try:
        for _ in range(qd):
            _, pos = _read_name(msg, pos)
            pos += 4
        answers = []
        for _ in range(an):
            name, pos = _read_name(msg, pos)
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", msg[pos : pos + 10])
            pos += 10
            if pos + rdlen > len(msg):
                raise DnsWireError("record runs past the end")
            if rclass == CLASS_IN:
                value = _rdata(msg, rtype, pos, pos + rdlen)
                answers.append(Answer(name, TYPE_NAMES.get(rtype, f"TYPE{rtype}"), ttl, value))
            pos += rdlen
    except (struct.error, IndexError) as exc:
        raise DnsWireError(f"malformed response: {exc}") from None
    return Response(qid, flags & 0x000F, bool(flags & 0x0200), bool(flags & 0x0400), tuple(answers))
