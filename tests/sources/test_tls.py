"""tls probe against local TLS servers with generated certificates, directly and via STARTTLS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from watchd.core.model import CheckResult, State
from watchd.sources import SOURCE_TYPES, BuildContext
from watchd.sources.probes.tls import TlsOutcome, TlsSpec, evaluate_tls
from watchd.sources.probes.x509 import CertificateParseError, CertInfo, parse_certificate

from .certs import Leaf, Pki

DAY = 86400.0
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def server_context(leaf: Leaf, min_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(leaf.cert, leaf.key)
    if min_version is not None:
        ctx.minimum_version = min_version
    return ctx


@contextlib.asynccontextmanager
async def listen(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the probe hung up mid-handshake on purpose (verification failed)
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0, ssl=tls)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads whatever comes and never answers."""
    await reader.read()


def smtp_server(tls: ssl.SSLContext, offer_starttls: bool = True) -> Handler:
    """A tiny SMTP server: greeting, EHLO (with or without STARTTLS), STARTTLS, then TLS."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.test ESMTP ready\r\n")
        while line := await reader.readline():
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                writer.write(
                    b"250-mx.test\r\n250-PIPELINING\r\n"
                    + (b"250-STARTTLS\r\n" if offer_starttls else b"")
                    + b"250 8BITMIME\r\n"
                )
            elif cmd == b"STARTTLS" and offer_starttls:
                writer.write(b"220 2.0.0 go ahead\r\n")
                await writer.drain()
                await writer.start_tls(tls)
                await reader.read(1)
                return
            else:
                writer.write(b"502 5.5.2 unknown\r\n")

    return handle


def imap_server(tls: ssl.SSLContext) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
        line = await reader.readline()
        tag = line.split(b" ")[0]
        writer.write(tag + b" OK Begin TLS negotiation now\r\n")
        await writer.drain()
        await writer.start_tls(tls)
        await reader.read(1)

    return handle


def pop3_server(tls: ssl.SSLContext) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"+OK POP3 ready\r\n")
        if (await reader.readline()).strip() != b"STLS":
            writer.write(b"-ERR unknown command\r\n")
            return
        writer.write(b"+OK Begin TLS\r\n")
        await writer.drain()
        await writer.start_tls(tls)
        await reader.read(1)

    return handle


async def probe(ctx: BuildContext, check_timeout: float = 5.0, **params: Any) -> CheckResult:
    return await SOURCE_TYPES["tls"]("tls", params, ctx).run(check_timeout)


async def test_valid_certificate(pki: Pki, ctx: BuildContext) -> None:
    """A valid chain for the right name: OK with days left and the negotiated protocol."""
    async with listen(idle, server_context(pki.good)) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, server_name="good.test", ca_file=str(pki.ca))
    assert r.state is State.OK, r.summary
    assert r.summary.startswith("TLS OK - TLSv1.3, certificate for good.test expires in 9")
    days = {p.label: p for p in r.perfdata}["days_left"]
    assert days.value == pytest.approx(90, abs=0.1)
    assert (days.warn, days.crit) == ("14:", "7:")


async def test_ip_address_as_name(pki: Pki, ctx: BuildContext) -> None:
    """Without server_name the host is verified, here against the certificate's IP SAN."""
    async with listen(idle, server_context(pki.good)) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, ca_file=str(pki.ca))
    assert r.state is State.OK, r.summary


async def test_expiring_in_five_days(pki: Pki, ctx: BuildContext) -> None:
    """5 days left breaks the default critical range 7: (and warning 14:)."""
    async with listen(idle, server_context(pki.expiring)) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, server_name="good.test", ca_file=str(pki.ca))
    assert r.state is State.CRITICAL
    assert "certificate expires in 5.0 days" in r.summary
    assert "(critical 7:)" in r.summary
    async with listen(idle, server_context(pki.expiring)) as port:
        r = await probe(
            ctx,
            host="127.0.0.1",
            port=port,
            server_name="good.test",
            ca_file=str(pki.ca),
            warning="10:",
            critical="3:",
        )
    assert r.state is State.WARNING


async def test_expired(pki: Pki, ctx: BuildContext) -> None:
    """An expired certificate says since when; the days are negative in perfdata."""
    async with listen(idle, server_context(pki.expired)) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, server_name="good.test", ca_file=str(pki.ca))
    assert r.state is State.CRITICAL
    assert "certificate expired" in r.summary
    assert "(on 2020-02-01 00:00 UTC)" in r.summary
    days = {p.label: p.value for p in r.perfdata}["days_left"]
    assert days is not None
    assert days < -365


async def test_wrong_host(pki: Pki, ctx: BuildContext) -> None:
    """A certificate for another name: 'hostname mismatch', and the expiry is still reported."""
    async with listen(idle, server_context(pki.wrong_host)) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, server_name="good.test", ca_file=str(pki.ca))
    assert r.state is State.CRITICAL
    assert "hostname mismatch" in r.summary
    assert "'good.test'" in r.summary
    assert "certificate expires in 9" in r.summary
    assert "days_left" in {p.label for p in r.perfdata}


async def test_self_signed(pki: Pki, ctx: BuildContext) -> None:
    """A self-signed certificate is named as such, with its expiry fetched without verification."""
    async with listen(idle, server_context(pki.self_signed)) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, server_name="good.test", ca_file=str(pki.ca))
    assert r.state is State.CRITICAL
    assert r.summary.startswith("TLS CRITICAL - self-signed certificate; certificate expires in 200.0 days")


async def test_unknown_ca(pki: Pki, ctx: BuildContext) -> None:
    """A chain from a CA the probe does not trust (no ca_file): 'unknown CA'."""
    async with listen(idle, server_context(pki.good)) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, server_name="good.test")
    assert r.state is State.CRITICAL
    assert "unknown CA" in r.summary


async def test_verify_off_checks_expiry_only(pki: Pki, ctx: BuildContext) -> None:
    """verify: false skips chain and name checks but still judges the expiry."""
    async with listen(idle, server_context(pki.self_signed)) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, verify=False)
    assert r.state is State.OK, r.summary


async def test_minimum_protocol_version(pki: Pki, ctx: BuildContext) -> None:
    """A server that only speaks TLS 1.2 fails a probe that requires TLS 1.3, with the reason."""
    tls = server_context(pki.good)
    tls.maximum_version = ssl.TLSVersion.TLSv1_2
    async with listen(idle, tls) as port:
        r = await probe(
            ctx,
            host="127.0.0.1",
            port=port,
            server_name="good.test",
            ca_file=str(pki.ca),
            min_version="TLSv1.3",
        )
        ok = await probe(ctx, host="127.0.0.1", port=port, server_name="good.test", ca_file=str(pki.ca))
    assert r.state is State.CRITICAL
    assert "TLS handshake failed" in r.summary, r.summary
    assert ok.state is State.OK
    assert "TLSv1.2" in ok.summary


async def test_not_tls(ctx: BuildContext) -> None:
    """A plain-text service on the port: the handshake failure says so."""

    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n" * 20)
        await writer.drain()
        await reader.read(1)

    async with listen(banner) as port:
        r = await probe(ctx, host="127.0.0.1", port=port)
    assert r.state is State.CRITICAL
    assert "TLS handshake failed" in r.summary


async def test_refused_and_timeout(ctx: BuildContext, free_port: int) -> None:
    """Nothing listening: refused. A server that never answers the handshake: timed out, in which phase."""
    r = await probe(ctx, host="127.0.0.1", port=free_port)
    assert r.summary == f"TLS CRITICAL - connection refused to 127.0.0.1:{free_port}"
    async with listen(silent) as port:
        r = await probe(ctx, check_timeout=0.5, host="127.0.0.1", port=port)
    assert r.state is State.CRITICAL
    assert "timed out after 0.45s in the TLS handshake" in r.summary


async def test_smtp_starttls(pki: Pki, ctx: BuildContext) -> None:
    """SMTP STARTTLS: EHLO, STARTTLS, then the same certificate checks."""
    async with listen(smtp_server(server_context(pki.expiring))) as port:
        r = await probe(
            ctx, host="127.0.0.1", port=port, starttls="smtp", server_name="good.test", ca_file=str(pki.ca)
        )
    assert r.state is State.CRITICAL
    assert "certificate expires in 5.0 days" in r.summary


async def test_smtp_without_starttls(pki: Pki, ctx: BuildContext) -> None:
    """An SMTP server that does not offer STARTTLS: CRITICAL and says so."""
    async with listen(smtp_server(server_context(pki.good), offer_starttls=False)) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, starttls="smtp")
    assert r.summary == "TLS CRITICAL - STARTTLS (smtp) failed: the SMTP server does not offer STARTTLS"


@pytest.mark.parametrize(("protocol", "server"), [("imap", imap_server), ("pop3", pop3_server)])
async def test_imap_pop3_starttls(
    pki: Pki, ctx: BuildContext, protocol: str, server: Callable[..., Handler]
) -> None:
    """IMAP STARTTLS and POP3 STLS work the same way."""
    async with listen(server(server_context(pki.good))) as port:
        r = await probe(
            ctx, host="127.0.0.1", port=port, starttls=protocol, server_name="good.test", ca_file=str(pki.ca)
        )
    assert r.state is State.OK, r.summary


async def test_missing_ca_file_is_unknown(ctx: BuildContext) -> None:
    """A ca_file that cannot be loaded means the check cannot run: UNKNOWN."""
    r = await probe(ctx, host="127.0.0.1", port=443, ca_file="/nonexistent/ca.pem")
    assert r.state is State.UNKNOWN
    assert "cannot load ca_file /nonexistent/ca.pem" in r.summary


# --- certificate parsing and pure evaluation -------------------------------------------------------


def _der(path: str) -> bytes:
    return subprocess.run(
        ["openssl", "x509", "-in", path, "-outform", "DER"], check=True, capture_output=True
    ).stdout


def _openssl_enddate(path: str) -> float:
    out = subprocess.run(
        ["openssl", "x509", "-in", path, "-noout", "-enddate"], check=True, capture_output=True, text=True
    ).stdout
    return time.mktime(time.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")) - time.timezone


@pytest.mark.parametrize("name", ["good", "expired", "wrong_host", "self_signed"])
def test_parse_certificate_matches_openssl(pki: Pki, name: str) -> None:
    """Expiry and names read from DER agree with openssl's own reading."""
    leaf = getattr(pki, name)
    info = parse_certificate(_der(str(leaf.cert)))
    assert info.not_after == pytest.approx(_openssl_enddate(str(leaf.cert)), abs=1)
    assert info.subject_cn == ("other.test" if name == "wrong_host" else "good.test")
    assert info.self_issued is (name == "self_signed")


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30", b"\x02\x01\x00", b"\x30\x84\xff\xff\xff\xff"],
    ids=["empty", "short", "int", "huge-length"],
)
def test_parse_garbage(data: bytes) -> None:
    """Bad input raises CertificateParseError, never IndexError or a hang."""
    with pytest.raises(CertificateParseError):
        parse_certificate(data)


NOW = 1_800_000_000.0
SPEC = TlsSpec(host="h", port=443)


@pytest.mark.parametrize(
    ("cert", "verify_error", "state", "text"),
    [
        pytest.param(
            CertInfo(NOW - DAY, NOW + 30 * DAY, "h", "ca", False),
            None,
            State.OK,
            "TLSv1.3, certificate for h expires in 30.0 days (2027-02-14 08:00 UTC)",
            id="ok",
        ),
        pytest.param(
            CertInfo(NOW - DAY, NOW + 10 * DAY, "h", "ca", False),
            None,
            State.WARNING,
            "certificate expires in 10.0 days (2027-01-25 08:00 UTC) (warning 14:)",
            id="warning",
        ),
        pytest.param(
            CertInfo(NOW - 9 * DAY, NOW - 2 * DAY, "h", "ca", False),
            "certificate has expired",
            State.CRITICAL,
            "certificate expired 2.0 days ago (on 2027-01-13 08:00 UTC)",
            id="expired-said-once",
        ),
        pytest.param(
            CertInfo(NOW + DAY, NOW + 90 * DAY, "h", "ca", False),
            None,
            State.CRITICAL,
            "certificate not valid before 2027-01-16 08:00 UTC",
            id="not-yet-valid",
        ),
        pytest.param(
            CertInfo(NOW - DAY, NOW + 90 * DAY, "h", "h", True),
            "self-signed certificate",
            State.CRITICAL,
            "self-signed certificate; certificate expires in 90.0 days",
            id="self-signed",
        ),
    ],
)
def test_evaluate_tls(cert: CertInfo, verify_error: str | None, state: State, text: str) -> None:
    """Verification errors come first, expiry always follows; 'expired' is said once."""
    v = evaluate_tls(TlsOutcome(cert, verify_error, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 0.01), SPEC, NOW)
    assert v.state is state
    assert v.text.startswith(text), v.text
