"""http probe against real aiohttp servers on 127.0.0.1 (plain and TLS)."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from watchd.core.model import CheckResult, State
from watchd.nagios.range import Thresholds
from watchd.sources import BuildContext, factory_for
from watchd.sources.probes.http import HttpExpect, HttpResponse, StatusSet, evaluate_http
from watchd.sources.probes.session import USER_AGENT

from .certs import Pki

pytestmark = pytest.mark.usefixtures("shared_sessions")

BIG = 5 << 20


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello watchd, all systems nominal")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def slow_body(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(request)
    await resp.write(b"start")
    await asyncio.sleep(5)
    return resp


async def error(request: web.Request) -> web.Response:
    return web.Response(status=503, text="maintenance: database down")


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/")


async def loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def large(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(request)
    chunk = b"x" * 65536
    for _ in range(BIG // len(chunk)):
        await resp.write(chunk)
    return resp


async def basic(request: web.Request) -> web.Response:
    expected = "Basic " + base64.b64encode(b"monitor:s3cret").decode()
    if request.headers.get("Authorization") != expected:
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="x"'})
    return web.Response(text="welcome")


async def bearer(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != "Bearer tok-123":
        raise web.HTTPUnauthorized()
    return web.Response(text="token ok")


async def echo(request: web.Request) -> web.Response:
    body = await request.text()
    return web.Response(
        text=f"{request.method} {request.headers.get('User-Agent')} {request.headers.get('X-Check')} {body}"
    )


def app() -> web.Application:
    a = web.Application()
    a.router.add_get("/", hello)
    a.router.add_get("/slow", slow)
    a.router.add_get("/slow-body", slow_body)
    a.router.add_get("/error", error)
    a.router.add_get("/redirect", redirect)
    a.router.add_get("/loop", loop)
    a.router.add_get("/large", large)
    a.router.add_get("/basic", basic)
    a.router.add_get("/bearer", bearer)
    a.router.add_route("*", "/echo", echo)
    return a


async def serve(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=tls)
    await site.start()
    return runner, int(runner.addresses[0][1])


@pytest.fixture
async def base() -> AsyncIterator[str]:
    runner, port = await serve()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def probe(ctx: BuildContext, check_timeout: float = 5.0, **params: Any) -> CheckResult:
    return await factory_for("http")("web", params, ctx).run(check_timeout)


async def test_ok(base: str, ctx: BuildContext) -> None:
    """A 200 with the expected text is OK, with time, size and status perfdata."""
    r = await probe(ctx, url=f"{base}/", body_contains="nominal", body_regex=r"all \w+", warning="5")
    assert r.state is State.OK, r.summary
    assert re.match(r"HTTP OK - 200 OK, 33 B in 0\.\d{3} s$", r.summary), r.summary
    p = {x.label: x for x in r.perfdata}
    assert p["size"].value == 33
    assert p["status"].value == 200
    assert p["time"].uom == "s"
    assert p["time"].warn == "5"


async def test_refused(ctx: BuildContext, free_port: int) -> None:
    """Nothing listening: CRITICAL 'connection refused to host:port'."""
    r = await probe(ctx, url=f"http://127.0.0.1:{free_port}/")
    assert r.state is State.CRITICAL
    assert r.summary == f"HTTP CRITICAL - connection refused to 127.0.0.1:{free_port}"


async def test_timeout_waiting_for_headers(base: str, ctx: BuildContext) -> None:
    """A server that does not answer in time: CRITICAL, and the summary says what it was waiting for."""
    r = await probe(ctx, check_timeout=0.5, url=f"{base}/slow")
    assert r.state is State.CRITICAL
    assert "timed out after 0.45s waiting for the response headers" in r.summary
    assert r.duration_s < 0.6


async def test_timeout_reading_body(base: str, ctx: BuildContext) -> None:
    """Headers came but the body stalls: the phase is 'reading the body'; the probe's own timeout applies."""
    r = await probe(ctx, url=f"{base}/slow-body", timeout=0.4)
    assert r.state is State.CRITICAL
    assert "timed out after 0.36s reading the body" in r.summary


async def test_unexpected_status(base: str, ctx: BuildContext) -> None:
    """A 503 is CRITICAL with the status, its reason and what was expected."""
    r = await probe(ctx, url=f"{base}/error")
    assert r.state is State.CRITICAL
    assert "unexpected status 503 Service Unavailable (expected 200-399)" in r.summary
    assert {x.label: x.value for x in r.perfdata}["status"] == 503


async def test_expected_error_status(base: str, ctx: BuildContext) -> None:
    """expect_status can accept other codes (a maintenance page probe)."""
    r = await probe(ctx, url=f"{base}/error", expect_status=["5xx"], body_contains="maintenance")
    assert r.state is State.OK, r.summary


async def test_redirect_not_followed_is_ok_by_default(base: str, ctx: BuildContext) -> None:
    """Without follow_redirects the 302 itself is judged (3xx is in the default 200-399)."""
    r = await probe(ctx, url=f"{base}/redirect")
    assert r.state is State.OK
    assert "302 Found" in r.summary
    r = await probe(ctx, url=f"{base}/redirect", expect_status=[200])
    assert r.state is State.CRITICAL
    assert "unexpected status 302 Found (expected 200)" in r.summary


async def test_redirect_followed(base: str, ctx: BuildContext) -> None:
    """follow_redirects reaches the final page and says where it ended."""
    r = await probe(
        ctx, url=f"{base}/redirect", follow_redirects=True, expect_status=[200], body_contains="hello"
    )
    assert r.state is State.OK, r.summary
    assert f"after 1 redirect to {base}/" in r.summary


async def test_redirect_loop(base: str, ctx: BuildContext) -> None:
    """An endless redirect is CRITICAL 'too many redirects'."""
    r = await probe(ctx, url=f"{base}/loop", follow_redirects=True, max_redirects=3)
    assert r.state is State.CRITICAL
    assert "too many redirects (more than 3)" in r.summary


@pytest.mark.parametrize(
    ("params", "words"),
    [
        pytest.param({"body_contains": "goodbye"}, "body does not contain 'goodbye'", id="missing-text"),
        pytest.param({"body_not_contains": "nominal"}, "body contains 'nominal'", id="forbidden-text"),
        pytest.param({"body_regex": r"^error"}, "body does not match /^error/", id="regex"),
    ],
)
async def test_body_mismatch(base: str, ctx: BuildContext, params: dict[str, Any], words: str) -> None:
    """Body checks that fail are CRITICAL and say which check failed."""
    r = await probe(ctx, url=f"{base}/", **params)
    assert r.state is State.CRITICAL
    assert words in r.summary


async def test_large_body_is_bounded(base: str, ctx: BuildContext) -> None:
    """Only max_body_bytes are read; text beyond the limit is not searched, and the result says so."""
    r = await probe(ctx, url=f"{base}/large", max_body_bytes=100_000)
    assert r.state is State.OK
    assert "100000+ B" in r.summary
    assert "body read limit reached" in r.long_output
    assert {x.label: x.value for x in r.perfdata}["size"] == 100_000


async def test_basic_auth_from_file(base: str, ctx: BuildContext) -> None:
    """The password comes from a file relative to the secrets directory; a wrong one gives 401."""
    pw = Path(ctx.secrets_dir or "") / "web.pw"
    write(pw, "s3cret\n")
    auth = {"username": "monitor", "password_file": "web.pw"}
    r = await probe(ctx, url=f"{base}/basic", basic_auth=auth, expect_status=[200])
    assert r.state is State.OK, r.summary
    write(pw, "wrong\n")  # read at every run: rotation needs no reload
    r = await probe(ctx, url=f"{base}/basic", basic_auth=auth, expect_status=[200])
    assert r.state is State.CRITICAL
    assert "unexpected status 401 Unauthorized" in r.summary


async def test_bearer_token_from_env(base: str, ctx: BuildContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bearer token may come from the environment."""
    monkeypatch.setenv("WATCHD_TEST_TOKEN", "tok-123")
    r = await probe(ctx, url=f"{base}/bearer", bearer_token_env="WATCHD_TEST_TOKEN", expect_status=[200])
    assert r.state is State.OK, r.summary


async def test_missing_secret_is_unknown(base: str, ctx: BuildContext) -> None:
    """A secret file that cannot be read makes the check UNKNOWN (it could not be performed)."""
    r = await probe(ctx, url=f"{base}/bearer", bearer_token_file="/nonexistent/token")
    assert r.state is State.UNKNOWN
    assert "cannot read secret file /nonexistent/token" in r.summary


async def test_method_headers_and_body(base: str, ctx: BuildContext) -> None:
    """POST with a body and custom headers; the probe identifies itself in User-Agent."""
    r = await probe(
        ctx,
        url=f"{base}/echo",
        method="POST",
        body="ping=1",
        headers={"X-Check": "yes"},
        body_contains=f"POST {USER_AGENT} yes ping=1",
    )
    assert r.state is State.OK, r.summary


async def test_response_time_thresholds(base: str, ctx: BuildContext) -> None:
    """A warning range the response time cannot meet gives WARNING with the range."""
    r = await probe(ctx, url=f"{base}/", warning="@0:10")
    assert r.state is State.WARNING
    assert "response time" in r.summary
    assert "(warning @0:10)" in r.summary


async def test_dns_failure(ctx: BuildContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unresolvable name is CRITICAL 'DNS failure' (the resolver is faked: tests stay on loopback)."""
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kw: Any) -> Any:
        if host == "watchd-test.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    r = await probe(ctx, url="http://watchd-test.invalid/")
    assert r.state is State.CRITICAL
    assert (
        r.summary
        == "HTTP CRITICAL - DNS failure: cannot resolve watchd-test.invalid (Name or service not known)"
    )


async def test_ipv6_loopback(ctx: BuildContext) -> None:
    """ip_version 6 connects over IPv6 (skipped where ::1 is not configured)."""
    try:
        runner, port = await serve("::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        r = await probe(ctx, url=f"http://[::1]:{port}/", ip_version=6)
        assert r.state is State.OK, r.summary
    finally:
        await runner.cleanup()


@pytest.fixture
async def https(pki: Pki) -> AsyncIterator[dict[str, int]]:
    ports = {}
    runners = []
    for name in ("good", "expired"):
        leaf = getattr(pki, name)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(leaf.cert, leaf.key)
        runner, ports[name] = await serve(tls=tls)
        runners.append(runner)
    yield ports
    for runner in runners:
        await runner.cleanup()


async def test_https_with_private_ca(https: dict[str, int], pki: Pki, ctx: BuildContext) -> None:
    """ca_file makes a private CA trusted; without it the chain is rejected with the reason."""
    url = f"https://127.0.0.1:{https['good']}/"
    r = await probe(ctx, url=url, ca_file=str(pki.ca))
    assert r.state is State.OK, r.summary
    r = await probe(ctx, url=url)
    assert r.state is State.CRITICAL
    assert "TLS error: unknown CA" in r.summary
    r = await probe(ctx, url=url, verify_tls=False)
    assert r.state is State.OK


async def test_https_expired(https: dict[str, int], pki: Pki, ctx: BuildContext) -> None:
    """An expired certificate is named as such."""
    r = await probe(ctx, url=f"https://127.0.0.1:{https['expired']}/", ca_file=str(pki.ca))
    assert r.state is State.CRITICAL
    assert "TLS error: certificate has expired" in r.summary


async def test_plain_http_to_tls_port(https: dict[str, int], ctx: BuildContext) -> None:
    """Speaking HTTP to a TLS port fails with a clear reason, not a hang."""
    r = await probe(ctx, url=f"http://127.0.0.1:{https['good']}/", check_timeout=2.0)
    assert r.state is State.CRITICAL
    assert "HTTP CRITICAL - " in r.summary


async def test_session_is_shared_per_loop(base: str, ctx: BuildContext) -> None:
    """Two probes in the same loop use the same session object."""
    from watchd.sources.probes.session import shared_session

    assert shared_session() is shared_session()
    assert shared_session(socket.AF_INET) is not shared_session()


# --- pure evaluation -------------------------------------------------------------------------------

RESP = HttpResponse(200, "OK", 0.2, b"<html>status: green</html>", False)


@pytest.mark.parametrize(
    ("resp", "expect", "state", "words"),
    [
        pytest.param(RESP, HttpExpect(), State.OK, "200 OK, 26 B in 0.200 s", id="ok"),
        pytest.param(
            RESP,
            HttpExpect(status=StatusSet.parse([201, "204"])),
            State.CRITICAL,
            "unexpected status 200 OK (expected 201, 204)",
            id="status",
        ),
        pytest.param(
            RESP,
            HttpExpect(time=Thresholds("0.1", "1")),
            State.WARNING,
            "response time 0.200 s (warning 0.1)",
            id="slow",
        ),
        pytest.param(
            RESP,
            HttpExpect(contains=("red",), time=Thresholds("0.1")),
            State.CRITICAL,
            "body does not contain 'red', response time",
            id="worst-wins",
        ),
        pytest.param(
            HttpResponse(200, "OK", 0.1, "grüß".encode("latin-1"), False, charset="latin-1"),
            HttpExpect(contains=("grüß",)),
            State.OK,
            "200 OK",
            id="charset",
        ),
    ],
)
def test_evaluate_http(resp: HttpResponse, expect: HttpExpect, state: State, words: str) -> None:
    """Status, body and time checks combine; the worst state wins and every fault is named."""
    v = evaluate_http(resp, expect)
    assert v.state is state
    assert words in v.text


@pytest.mark.parametrize(
    ("items", "inside", "outside"),
    [
        pytest.param([200], [200], [201, 299]),
        pytest.param(["2xx", 301], [200, 250, 299, 301], [300, 302]),
        pytest.param(["200-204"], [200, 204], [199, 205]),
    ],
)
def test_status_set(items: list[Any], inside: list[int], outside: list[int]) -> None:
    """Codes, ranges and classes."""
    s = StatusSet.parse(items)
    assert all(c in s for c in inside)
    assert not any(c in s for c in outside)
