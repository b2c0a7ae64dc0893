"""`tls`: certificate expiry, chain and hostname validation, protocol version, optionally via STARTTLS.

The first handshake verifies (system CAs or `ca_file`, hostname = `server_name` or `host`). If that
fails on the certificate, a second handshake without verification fetches the certificate so the
result still reports its expiry: "self-signed certificate; expires in 200 days".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
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
from watchd.sources.probes.failures import os_error_reason, tls_error_reason, tls_verify_reason
from watchd.sources.probes.starttls import DIALOGS, MAX_LINE, PROTOCOLS, StartTlsError
from watchd.sources.probes.tcp import family_param, host_port
from watchd.sources.probes.x509 import CertificateParseError, CertInfo, parse_certificate
from watchd.sources.verdict import Figure, Verdict, seconds

VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
DAY = 86400.0
_VALIDITY_ERRORS = ("certificate has expired", "certificate is not yet valid")
CLOSE_WAIT_S = 0.25


@dataclass(frozen=True, slots=True)
class TlsSpec:
    host: str
    port: int
    server_name: str | None = None  # SNI and the name to verify; defaults to host
    starttls: str | None = None
    family: int = 0
    ca_file: str | None = None
    verify: bool = True
    min_version: str = "TLSv1.2"
    days: Thresholds = field(default_factory=lambda: Thresholds("14:", "7:"))
    time: Thresholds = field(default_factory=Thresholds)
    helo_name: str = "localhost"
    timeout: float | None = None

    @property
    def name(self) -> str:
        return self.server_name or self.host

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TlsOutcome:
    """What the handshakes found: the certificate, why verification failed if it did, the session."""

    cert: CertInfo | None
    verify_error: str | None = None
    version: str | None = None
    cipher: str | None = None
    time_s: float = 0.0


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def evaluate_tls(o: TlsOutcome, s: TlsSpec, now: float) -> Verdict:
    time_fig = Figure("time", o.time_s, f"handshake {seconds(o.time_s)}", "s", s.time, 0)
    perf = [time_fig.perf]
    faults: list[tuple[State, str]] = []
    if time_fig.state is not State.OK:
        faults.append((time_fig.state, time_fig.problem_text()))
    lines = []
    if o.version:
        lines.append(f"protocol {o.version}, cipher {o.cipher}")
    expiry = ""
    if o.cert is not None:
        c = o.cert
        days = (c.not_after - now) / DAY
        fig = Figure("days_left", days, "", "", s.days)
        perf.insert(0, fig.perf)
        lines.append(f"subject CN {c.subject_cn}, issuer CN {c.issuer_cn}")
        lines.append(f"valid from {_date(c.not_before)} until {_date(c.not_after)}")
        if days < 0:
            faults.append(
                (State.CRITICAL, f"certificate expired {-days:.1f} days ago (on {_date(c.not_after)})")
            )
        elif c.not_before > now:
            faults.append((State.CRITICAL, f"certificate not valid before {_date(c.not_before)}"))
        else:
            expiry = f"expires in {days:.1f} days ({_date(c.not_after)})"
            if fig.state is not State.OK:
                broken = s.days.crit if fig.state is State.CRITICAL else s.days.warn
                faults.append((fig.state, f"certificate {expiry} ({fig.state.name.lower()} {broken})"))
    # The validity window is reported above with dates; OpenSSL's words for it would say it twice.
    said = o.cert is not None and (o.cert.not_after < now or o.cert.not_before > now)
    if o.verify_error is not None and not (said and o.verify_error in _VALIDITY_ERRORS):
        faults.insert(0, (State.CRITICAL, o.verify_error))
    if faults:
        text = "; ".join(t for _, t in faults)
        if expiry and not any("expires" in t for _, t in faults):
            text += f"; certificate {expiry}"
        return Verdict(worst(*(st for st, _ in faults)), text, tuple(perf), "\n".join(lines))
    cn = f" for {o.cert.subject_cn}" if o.cert and o.cert.subject_cn else ""
    return Verdict(State.OK, f"{o.version}, certificate{cn} {expiry}", tuple(perf), "\n".join(lines))


class TlsProbe(Probe):
    kind = "TLS"

    def __init__(self, name: str, spec: TlsSpec, *, clock: Clock | None = None) -> None:
        super().__init__(name, clock=clock)
        self.spec = spec

    def own_timeout(self) -> float | None:
        return self.spec.timeout

    async def probe(self, limit: float, t0: float) -> Verdict:
        phase = ["connecting"]
        try:
            verified, unverified = self._contexts()
        except (OSError, ssl.SSLError) as exc:
            reason = f"cannot load ca_file {self.spec.ca_file}: {exc}"
            return Verdict(State.UNKNOWN, reason, reason=reason)
        try:
            async with asyncio.timeout(limit):
                outcome = await self._probe(verified, unverified, phase)
            verdict = evaluate_tls(outcome, self.spec, self.clock.time())
        except TimeoutError:
            verdict = _critical(f"timed out after {limit:g}s {phase[0]} ({self.spec.where})")
        except HandshakeAborted as exc:
            verdict = _critical(f"{exc} ({self.spec.where})")
        except StartTlsError as exc:
            verdict = _critical(f"STARTTLS ({self.spec.starttls}) failed: {exc}")
        except ssl.SSLError as exc:
            verdict = _critical(f"{tls_error_reason(exc)} ({self.spec.where})")
        except OSError as exc:
            verdict = _critical(os_error_reason(exc, self.spec.host, self.spec.port))
        except CertificateParseError as exc:
            verdict = Verdict(State.UNKNOWN, f"cannot read the server certificate: {exc}", reason=str(exc))
        return verdict

    def _contexts(self) -> tuple[ssl.SSLContext | None, ssl.SSLContext]:
        s = self.spec
        unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        unverified.minimum_version = VERSIONS[s.min_version]
        if not s.verify:
            return None, unverified
        verified = ssl.create_default_context(cafile=s.ca_file)
        verified.minimum_version = VERSIONS[s.min_version]
        return verified, unverified

    async def _probe(
        self, verified: ssl.SSLContext | None, unverified: ssl.SSLContext, phase: list[str]
    ) -> TlsOutcome:
        t0 = self.clock.monotonic()
        if verified is not None:
            try:
                der, version, cipher = await self._handshake(verified, phase)
            except ssl.SSLCertVerificationError as exc:
                elapsed = self.clock.monotonic() - t0
                reason = tls_verify_reason(exc)
                phase[0] = "fetching the certificate without verification"
                der, version, cipher = await self._handshake(unverified, phase)
                return TlsOutcome(parse_certificate(der), reason, version, cipher, elapsed)
        else:
            der, version, cipher = await self._handshake(unverified, phase)
        elapsed = self.clock.monotonic() - t0
        return TlsOutcome(parse_certificate(der), None, version, cipher, elapsed)

    async def _handshake(self, ctx: ssl.SSLContext, phase: list[str]) -> tuple[bytes, str | None, str | None]:
        s = self.spec
        phase[0] = f"connecting to {s.where}"
        reader, writer = await asyncio.open_connection(s.host, s.port, family=s.family, limit=MAX_LINE)
        done = False
        try:
            if s.starttls is not None:
                phase[0] = f"in the {s.starttls.upper()} dialog before STARTTLS"
                await DIALOGS[s.starttls](reader, writer, s.helo_name)
            phase[0] = "in the TLS handshake"
            try:
                await writer.start_tls(ctx, server_hostname=s.name)
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
                # A server that rejects the ClientHello often just drops the connection.
                raise HandshakeAborted(
                    f"TLS handshake failed: connection {exc.strerror or 'closed'} by the "
                    "server (no common protocol version or cipher?)"
                ) from None
            obj = writer.get_extra_info("ssl_object")
            assert isinstance(obj, ssl.SSLObject)
            der = obj.getpeercert(binary_form=True)
            if not der:
                raise CertificateParseError("the server sent no certificate")
            cipher = obj.cipher()
            done = True
            return der, obj.version(), cipher[0] if cipher else None
        finally:
            await _close(writer, graceful=done)


async def _close(writer: asyncio.StreamWriter, graceful: bool) -> None:
    """After a handshake, close politely (close_notify) but briefly; after a failure or a timeout, abort:
    a transport left half-way through start_tls never reports itself closed, so waiting would hang."""
    if not graceful:
        writer.transport.abort()
        return
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), CLOSE_WAIT_S)


class HandshakeAborted(Exception):
    """The server closed the connection during the handshake instead of sending an alert."""


def _critical(text: str) -> Verdict:
    return Verdict(State.CRITICAL, text, reason=text)


@register("tls")
def build_tls(name: str, params: Mapping[str, Any], ctx: BuildContext) -> TlsProbe:
    p = Params(params)
    host, port = host_port(p)
    ca_file = p.text("ca_file")
    spec = TlsSpec(
        host=host,
        port=port,
        server_name=p.text("server_name"),
        starttls=p.text("starttls", choices=PROTOCOLS),
        family=family_param(p),
        ca_file=None if ca_file is None else os.path.join(ctx.config_dir, ca_file),
        verify=p.flag("verify", True),
        min_version=p.text("min_version", "TLSv1.2", choices=tuple(VERSIONS)) or "TLSv1.2",
        days=p.thresholds("warning", "critical", warn_default="14:", crit_default="7:"),
        time=p.thresholds("time_warning", "time_critical"),
        helo_name=ctx.host or "localhost",
        timeout=p.optional_number("timeout", min=0.001),
    )
    p.done()
    return TlsProbe(name, spec)
