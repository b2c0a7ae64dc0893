"""Just enough DER to read a certificate's validity and names, with no third-party dependency.

The ssl module only decodes a peer certificate that passed verification; to report "expires in 12 days"
for a self-signed or wrongly named certificate too, the probe fetches it unverified and reads it here.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

_SEQUENCE, _SET, _OID, _UTCTIME, _GENTIME, _CONTEXT0 = 0x30, 0x31, 0x06, 0x17, 0x18, 0xA0
_OID_CN = bytes([0x55, 0x04, 0x03])  # 2.5.4.3 commonName


class CertificateParseError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class CertInfo:
    not_before: float  # UTC epoch seconds
    not_after: float
    subject_cn: str | None
    issuer_cn: str | None
    self_issued: bool  # subject == issuer


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, value start, value end) of the element at `pos`."""
    if pos + 2 > len(data):
        raise CertificateParseError("truncated element")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise CertificateParseError("bad length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise CertificateParseError("element runs past the end")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tag, vs, ve = _tlv(data, pos)
        out.append((tag, vs, ve))
        pos = ve
    return out


def _time(data: bytes, tag: int, start: int, end: int) -> float:
    text = data[start:end].decode("ascii")
    if not text.endswith("Z"):
        raise CertificateParseError(f"time without Z: {text!r}")
    if tag == _UTCTIME:  # YYMMDDHHMM[SS]Z, years 1950-2049 (RFC 5280)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENTIME:
        raise CertificateParseError(f"not a time (tag {tag:#x})")
    digits = text[:-1].split(".")[0]
    if len(digits) == 12:
        digits += "00"
    y, mo, d, h, mi, s = (int(digits[i:j]) for i, j in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14)))
    return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))


def _common_name(data: bytes, start: int, end: int) -> str | None:
    for rdn_tag, rs, re_ in _children(data, start, end):
        if rdn_tag != _SET:
            continue
        for atv_tag, as_, ae in _children(data, rs, re_):
            if atv_tag != _SEQUENCE:
                continue
            parts = _children(data, as_, ae)
            if len(parts) == 2 and parts[0][0] == _OID and data[parts[0][1] : parts[0][2]] == _OID_CN:
                _, vs, ve = parts[1]
                return data[vs:ve].decode("utf-8", errors="replace")
    return None


def parse_certificate(der: bytes) -> CertInfo:
    """Validity and common names of a DER certificate; CertificateParseError if it is not one."""
    try:
        tag, cs, _ = _tlv(der, 0)
        if tag != _SEQUENCE:
            raise CertificateParseError("not a certificate")
        tag, ts, te = _tlv(der, cs)
        if tag != _SEQUENCE:
            raise CertificateParseError("no tbsCertificate")
        fields = _children(der, ts, te)
        if fields and fields[0][0] == _CONTEXT0:
            fields = fields[1:]  # [0] version
        # serialNumber, signature, issuer, validity, subject
        if len(fields) < 5:
            raise CertificateParseError("tbsCertificate too short")
        issuer, validity, subject = fields[2], fields[3], fields[4]
        times = _children(der, validity[1], validity[2])
        if len(times) != 2:
            raise CertificateParseError("bad validity")
        return CertInfo(
            not_before=_time(der, *times[0]),
            not_after=_time(der, *times[1]),
            subject_cn=_common_name(der, subject[1], subject[2]),
            issuer_cn=_common_name(der, issuer[1], issuer[2]),
            self_issued=der[issuer[1] : issuer[2]] == der[subject[1] : subject[2]],
        )
    except (IndexError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, CertificateParseError):
            raise
        raise CertificateParseError(str(exc)) from None
