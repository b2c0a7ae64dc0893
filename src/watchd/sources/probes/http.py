"""`http`: fetch a URL and judge status, body and response time.

`evaluate_http` is pure (a fetched response + expectations -> Verdict); `HttpProbe.run` does the I/O on
the shared session and turns every failure into a CRITICAL result that says why (refused, timeout and
in which phase, DNS failure, TLS error, unexpected status, body mismatch).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from watchd.core.clock import Clock
from watchd.core.model import State
from watchd.nagios.range import Thresholds
from watchd.plugin import worst
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.probes.base import Probe
from watchd.sources.probes.failures import os_error_reason, tls_error_reason, tls_verify_reason
from watchd.sources.probes.session import Phase, shared_session
from watchd.sources.secrets import Secret, SecretError, secret_param
from watchd.sources.verdict import Figure, Verdict, seconds

DEFAULT_MAX_BODY = 1 << 20
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_STATUS_ITEM = re.compile(r"^(?:(\d{3})(?:-(\d{3}))?|([1-5])xx)$")


@dataclass(frozen=True, slots=True)
class StatusSet:
    """Accepted status codes: `[200, "301-302", "2xx"]`."""

    spans: tuple[tuple[int, int], ...]
    text: str

    @classmethod
    def parse(cls, items: list[Any] | tuple[Any, ...]) -> StatusSet:
        spans = []
        for item in items:
            m = _STATUS_ITEM.match(str(item).strip()) if isinstance(item, int | str) else None
            if not m or isinstance(item, bool):
                raise ValueError(f"{item!r} is not a status code, a range like 200-299 or a class like 2xx")
            if m.group(3):
                lo, hi = int(m.group(3)) * 100, int(m.group(3)) * 100 + 99
            else:
                lo = int(m.group(1))
                hi = int(m.group(2) or lo)
            if not (100 <= lo <= hi <= 599):
                raise ValueError(f"{item!r} is not a valid status range")
            spans.append((lo, hi))
        if not spans:
            raise ValueError("must not be empty")
        return cls(tuple(spans), ", ".join(str(i) for i in items))

    def __contains__(self, status: object) -> bool:
        return isinstance(status, int) and any(lo <= status <= hi for lo, hi in self.spans)


@dataclass(frozen=True, slots=True)
class HttpExpect:
    status: StatusSet = StatusSet(((200, 399),), "200-399")
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    time: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    reason: str
    elapsed_s: float
    body: bytes
    truncated: bool  # the body was longer than the read limit
    charset: str | None = None
    url: str = ""  # the final URL, after redirects
    redirects: int = 0


def evaluate_http(r: HttpResponse, e: HttpExpect) -> Verdict:
    faults: list[tuple[State, str]] = []
    if r.status not in e.status:
        faults.append((State.CRITICAL, f"unexpected status {r.status} {r.reason} (expected {e.status.text})"))
    if e.contains or e.not_contains or e.regex is not None:
        text = _decode(r.body, r.charset)
        for needle in e.contains:
            if needle not in text:
                faults.append((State.CRITICAL, f"body does not contain {needle!r}"))
        for needle in e.not_contains:
            if needle in text:
                faults.append((State.CRITICAL, f"body contains {needle!r}"))
        if e.regex is not None and e.regex.search(text) is None:
            faults.append((State.CRITICAL, f"body does not match /{e.regex.pattern}/"))
    time_fig = Figure("time", r.elapsed_s, f"response time {seconds(r.elapsed_s)}", "s", e.time, 0)
    if time_fig.state is not State.OK:
        faults.append((time_fig.state, time_fig.problem_text()))
    perf = (
        time_fig.perf,
        Figure("size", len(r.body), "", "B", Thresholds(), 0).perf,
        Figure("status", r.status, "", "", Thresholds(), 100, 599).perf,
    )
    size = f"{len(r.body)}{'+' if r.truncated else ''} B"
    ok = f"{r.status} {r.reason}, {size} in {seconds(r.elapsed_s)}"
    lines = []
    if r.redirects:
        ok += f" after {r.redirects} redirect{'s' if r.redirects > 1 else ''} to {r.url}"
        lines.append(f"final URL: {r.url}")
    if r.truncated:
        lines.append(f"body read limit reached: only the first {len(r.body)} bytes were read and matched")
    if not faults:
        return Verdict(State.OK, ok, perf, "\n".join(lines))
    state = worst(*(s for s, _ in faults))
    text = ", ".join(t for _, t in faults) + f" ({r.status}, {size} in {seconds(r.elapsed_s)})"
    return Verdict(state, text, perf, "\n".join(lines))


@dataclass(frozen=True, slots=True)
class HttpRequest:
    url: URL
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    follow_redirects: bool = False
    max_redirects: int = 10
    family: int = 0
    proxy: str | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    username: str | None = None
    password: Secret | None = None
    bearer: Secret | None = None
    timeout: float | None = None  # the probe's own limit; the check timeout still caps it


class HttpProbe(Probe):
    kind = "HTTP"

    def __init__(
        self, name: str, request: HttpRequest, expect: HttpExpect, *, clock: Clock | None = None
    ) -> None:
        super().__init__(name, clock=clock)
        self.request = request
        self.expect = expect
        self._ssl: ssl.SSLContext | bool | None = None

    def own_timeout(self) -> float | None:
        return self.request.timeout

    async def probe(self, limit: float, t0: float) -> Verdict:
        phase = Phase()
        try:
            tls = self._ssl_context()
        except (OSError, ssl.SSLError) as exc:
            reason = f"cannot load ca_file {self.request.ca_file}: {exc}"
            return Verdict(State.UNKNOWN, reason, reason=reason)
        try:
            async with asyncio.timeout(limit):
                verdict = evaluate_http(await self._fetch(phase, limit, tls), self.expect)
        except TimeoutError:
            verdict = _critical(f"timed out after {limit:g}s {phase.now} ({self._where()})")
        except SecretError as exc:
            verdict = Verdict(State.UNKNOWN, str(exc), reason=str(exc))
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            verdict = _critical(self._describe(exc))
        return verdict

    async def _fetch(self, phase: Phase, limit: float, tls: ssl.SSLContext | bool) -> HttpResponse:
        req = self.request
        headers = dict(req.headers)
        if req.password is not None:
            pair = f"{req.username or ''}:{req.password.read()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        if req.bearer is not None:
            headers["Authorization"] = f"Bearer {req.bearer.read()}"
        t0 = self.clock.monotonic()
        async with shared_session(req.family).request(
            req.method,
            req.url,
            headers=headers,
            data=req.body.encode() if req.body is not None else None,
            allow_redirects=req.follow_redirects,
            max_redirects=req.max_redirects,
            proxy=req.proxy,
            ssl=tls,
            timeout=aiohttp.ClientTimeout(total=limit + 1),  # backstop; asyncio.timeout above is the limit
            trace_request_ctx=phase,
        ) as resp:
            phase.now = "reading the body"
            body, truncated = await _read_bounded(resp, req.max_body)
            elapsed = self.clock.monotonic() - t0
            return HttpResponse(
                status=resp.status,
                reason=resp.reason or "",
                elapsed_s=elapsed,
                body=body,
                truncated=truncated,
                charset=resp.charset,
                url=str(resp.url),
                redirects=len(resp.history),
            )

    def _ssl_context(self) -> ssl.SSLContext | bool:
        if self._ssl is None:
            if not self.request.verify_tls:
                self._ssl = False
            elif self.request.ca_file:
                self._ssl = ssl.create_default_context(cafile=self.request.ca_file)
            else:
                self._ssl = True
        return self._ssl

    def _where(self) -> str:
        return str(self.request.url.with_query(None).with_fragment(None))

    def _describe(self, exc: BaseException) -> str:
        url = self.request.url
        host, port = url.host or "?", url.port or 0
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            cert_error = exc.certificate_error
            if isinstance(cert_error, ssl.SSLCertVerificationError):
                return f"TLS error: {tls_verify_reason(cert_error)} ({host}:{port})"
            return f"TLS error: {cert_error} ({host}:{port})"
        if isinstance(exc, aiohttp.ClientConnectorSSLError) and isinstance(exc.os_error, ssl.SSLError):
            return f"{tls_error_reason(exc.os_error)} ({host}:{port})"
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            return f"DNS failure: cannot resolve {host} ({exc.os_error.strerror or exc.os_error})"
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            return f"cannot connect to proxy {self.request.proxy}: {exc.os_error.strerror or exc.os_error}"
        if isinstance(exc, aiohttp.ClientConnectorError):
            return os_error_reason(exc.os_error, host, port)
        if isinstance(exc, aiohttp.ClientHttpProxyError):
            return f"proxy {self.request.proxy} answered {exc.status} {exc.message}"
        if isinstance(exc, aiohttp.TooManyRedirects):
            return f"too many redirects (more than {self.request.max_redirects}) from {self._where()}"
        if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError | aiohttp.InvalidUrlRedirectClientError):
            return f"redirect to an unusable URL: {exc}"
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return f"server closed the connection without a response ({host}:{port})"
        if isinstance(exc, aiohttp.ClientPayloadError):
            return f"malformed response body: {exc}"
        if isinstance(exc, aiohttp.ClientResponseError):
            return f"invalid HTTP response from {host}:{port}: {exc.message}"
        if isinstance(exc, ssl.SSLError):
            return f"{tls_error_reason(exc)} ({host}:{port})"
        if isinstance(exc, OSError):
            return os_error_reason(exc, host, port)
        return f"request failed: {exc}"


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes; True when more was there (not read: a probe never downloads a DVD)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await resp.content.read(min(64 * 1024, limit - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    more = await resp.content.read(1)
    return b"".join(chunks), bool(more)


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know: match on UTF-8 rather than fail
        return body.decode("utf-8", errors="replace")


def _critical(text: str) -> Verdict:
    return Verdict(State.CRITICAL, text, reason=text)


@register("http")
def build_http(name: str, params: Mapping[str, Any], ctx: BuildContext) -> HttpProbe:
    p = Params(params)
    raw_url = p.required_text("url")
    try:
        url = URL(raw_url)
    except ValueError as exc:
        raise p.error("url", f"not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise p.error("url", f"expected an http:// or https:// URL with a host, got {raw_url!r}")
    method = (p.text("method", "GET") or "GET").upper()
    if method not in METHODS:
        raise p.error("method", f"expected one of {', '.join(METHODS)}, got {method!r}")
    statuses = p.raw("expect_status")
    try:
        status = StatusSet.parse(statuses if isinstance(statuses, list) else [statuses]) if statuses else None
    except ValueError as exc:
        raise p.error("expect_status", str(exc)) from None
    expect = HttpExpect(
        status=status or HttpExpect().status,
        contains=p.text_list("body_contains"),
        not_contains=p.text_list("body_not_contains"),
        regex=p.regex("body_regex"),
        time=p.thresholds("warning", "critical"),
    )
    username, password, bearer = None, None, None
    auth = p.mapping("basic_auth")
    if auth is not None:
        username = auth.required_text("username")
        password = secret_param(auth, "password", ctx, required=True)
        auth.done()
    bearer = secret_param(p, "bearer_token", ctx, required=False)
    if bearer is not None and password is not None:
        raise p.error("bearer_token_file", "give basic_auth or a bearer token, not both")
    ip_version = p.integer("ip_version", 0)
    if ip_version not in (0, 4, 6):
        raise p.error("ip_version", f"expected 4 or 6, got {ip_version}")
    ca_file = p.text("ca_file")
    request = HttpRequest(
        url=url,
        method=method,
        headers=p.text_mapping("headers"),
        body=p.text("body"),
        follow_redirects=p.flag("follow_redirects", False),
        max_redirects=p.integer("max_redirects", 10, min=1, max=50),
        family={0: 0, 4: socket.AF_INET, 6: socket.AF_INET6}[ip_version],
        proxy=p.text("proxy"),
        verify_tls=p.flag("verify_tls", True),
        ca_file=None if ca_file is None else _resolve(ctx, ca_file),
        max_body=p.integer("max_body_bytes", DEFAULT_MAX_BODY, min=0, max=64 << 20),
        username=username,
        password=password,
        bearer=bearer,
        timeout=p.optional_number("timeout", min=0.001),
    )
    p.done()
    return HttpProbe(name, request, expect)


def _resolve(ctx: BuildContext, path: str) -> str:
    return os.path.join(ctx.config_dir, path)
