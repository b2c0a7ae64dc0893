"""Why a connection failed, in words an operator can act on (refused, timeout, DNS, TLS, ...).

Shared by the tcp, http and tls probes so that the same failure reads the same everywhere.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl

# OpenSSL verify codes (x509_vfy.h) -> plain words; the message OpenSSL gives is used otherwise.
_VERIFY_REASONS = {
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in the chain (unknown root CA)",
    20: "unknown CA: unable to get the issuer certificate",
    21: "unknown CA: unable to verify the first certificate",
    2: "unknown CA: unable to get the issuer certificate",
    23: "certificate has been revoked",
    62: "hostname mismatch",
}


def tls_verify_reason(exc: ssl.SSLCertVerificationError) -> str:
    """`certificate has expired`, `hostname mismatch: certificate is not valid for 'x'`, ..."""
    code = getattr(exc, "verify_code", None)
    message = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    reason = _VERIFY_REASONS.get(code or -1)
    if reason is None:
        return f"certificate verify failed: {message}"
    if code == 62:
        return f"hostname mismatch: {message.replace('Hostname mismatch, c', 'c').rstrip('.')}"
    return reason


def tls_error_reason(exc: ssl.SSLError) -> str:
    """A handshake failure that is not about the certificate (protocol version, alerts, plain text)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return tls_verify_reason(exc)
    reason = (exc.reason or "").upper()
    if "WRONG_VERSION_NUMBER" in reason or "PACKET_LENGTH_TOO_LONG" in reason:
        return "TLS handshake failed: server did not answer with TLS (plain text service?)"
    if "UNSUPPORTED_PROTOCOL" in reason or "PROTOCOL_VERSION" in reason or "NO_PROTOCOLS_AVAILABLE" in reason:
        return "TLS handshake failed: no common protocol version (server too old for the minimum?)"
    if "HANDSHAKE_FAILURE" in reason or "NO_SHARED_CIPHER" in reason:
        return "TLS handshake failed: no common cipher or protocol"
    return f"TLS handshake failed: {exc.reason or exc}"


def os_error_reason(exc: OSError, host: str, port: int) -> str:
    where = f"{host}:{port}"
    if isinstance(exc, ssl.SSLError):
        return tls_error_reason(exc)
    if isinstance(exc, socket.gaierror):
        return f"DNS failure: cannot resolve {host} ({exc.strerror or exc})"
    if exc.errno is None and str(exc).startswith("Multiple exceptions: "):
        # asyncio tried several addresses (::1 and 127.0.0.1) and each failed differently worded
        codes = re.findall(r"\[Errno (\d+)\]", str(exc))
        if codes and all(int(c) == errno.ECONNREFUSED for c in codes):
            return f"connection refused to {where} (all addresses)"
        return f"cannot connect to {where}: {str(exc).removeprefix('Multiple exceptions: ')}"
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return f"connection refused to {where}"
    if isinstance(exc, ConnectionResetError):
        return f"connection reset by {where}"
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"{'network' if exc.errno == errno.ENETUNREACH else 'host'} unreachable: {where}"
    if isinstance(exc, TimeoutError):
        return f"timed out connecting to {where}"
    return f"cannot connect to {where}: {exc.strerror or exc}"
