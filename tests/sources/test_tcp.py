"""tcp probe against local servers: banner, send/expect, refused, silent."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from watchd.core.model import CheckResult, State
from watchd.nagios.range import Thresholds
from watchd.sources import SOURCE_TYPES, BuildContext
from watchd.sources.probes.tcp import TcpOutcome, TcpSpec, evaluate_tcp

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def listen(handler: Handler) -> AsyncIterator[int]:
    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await handler(reader, writer)
        writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def ssh_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    await writer.drain()
    await reader.read(100)


async def echo_upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    line = await reader.readline()
    writer.write(line.upper())
    await writer.drain()
    await reader.read(100)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()


async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"x" * 10_000)
    await writer.drain()
    await reader.read()


async def probe(ctx: BuildContext, check_timeout: float = 5.0, **params: Any) -> CheckResult:
    return await SOURCE_TYPES["tcp"]("tcp", params, ctx).run(check_timeout)


async def test_connect_only(ctx: BuildContext) -> None:
    """A plain connect is OK with the connect time as `time` perfdata."""
    async with listen(ssh_banner) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, warning="1", critical="2")
    assert r.state is State.OK
    assert re.match(rf"TCP OK - connected to 127\.0\.0\.1:{port} in 0\.\d{{3}} s$", r.summary)
    assert [(p.label, p.uom, p.warn, p.crit) for p in r.perfdata] == [("time", "s", "1", "2")]


async def test_banner_substring(ctx: BuildContext) -> None:
    """`expect` matches a substring of the banner; the banner is in the long output."""
    async with listen(ssh_banner) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, expect="SSH-2.0-")
    assert r.state is State.OK, r.summary
    assert "answer matched 'SSH-2.0-'" in r.summary
    assert "OpenSSH_9.2p1" in r.long_output
    assert {p.label for p in r.perfdata} == {"time", "response_time"}


async def test_send_and_expect_regex(ctx: BuildContext) -> None:
    """`send` goes out first, `expect_regex` judges the answer."""
    async with listen(echo_upper) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, send="ping watchd\n", expect_regex=r"^PING \w+$")
    assert r.state is State.OK, r.summary


async def test_banner_mismatch(ctx: BuildContext) -> None:
    """A different banner is CRITICAL and shows what came instead."""
    async with listen(ssh_banner) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, expect="220 ", check_timeout=1.0)
    assert r.state is State.CRITICAL
    assert "waiting for '220 '" in r.summary
    assert "got 'SSH-2.0-OpenSSH_9.2p1 Debian-2'" in r.summary


async def test_read_limit(ctx: BuildContext) -> None:
    """Reading stops at read_limit: a mismatch is reported without waiting for the timeout."""
    async with listen(chatty) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, expect="never", read_limit=100)
    assert r.state is State.CRITICAL
    assert "answer did not match 'never' (read limit of 100 bytes reached" in r.summary
    assert r.duration_s < 1


async def test_refused(ctx: BuildContext, free_port: int) -> None:
    """Nothing listening: 'connection refused'."""
    r = await probe(ctx, host="127.0.0.1", port=free_port)
    assert r.summary == f"TCP CRITICAL - connection refused to 127.0.0.1:{free_port}"


async def test_silent_server_times_out(ctx: BuildContext) -> None:
    """A server that never sends the expected banner: timed out, naming what was awaited."""
    async with listen(silent) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, expect="220", timeout=0.3)
    assert r.state is State.CRITICAL
    assert f"timed out after 0.27s waiting for '220' from 127.0.0.1:{port} (got nothing)" in r.summary


async def test_connection_closed_before_match(ctx: BuildContext) -> None:
    """The server hangs up before the expected text: the mismatch says the connection closed."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"421 too busy\r\n")
        await writer.drain()

    async with listen(hang_up) as port:
        r = await probe(ctx, host="127.0.0.1", port=port, expect="220")
    assert r.summary.startswith(
        "TCP CRITICAL - answer did not match '220' (connection closed, got '421 too busy')"
    )


@pytest.mark.parametrize(
    ("outcome", "spec", "state", "words"),
    [
        pytest.param(TcpOutcome(0.002), TcpSpec("h", 1), State.OK, "connected to h:1 in 0.002 s", id="ok"),
        pytest.param(
            TcpOutcome(0.5),
            TcpSpec("h", 1, time=Thresholds("0.1", "1")),
            State.WARNING,
            "connect time 0.500 s (warning 0.1)",
            id="slow-connect",
        ),
        pytest.param(
            TcpOutcome(0.001), TcpSpec("::1", 25), State.OK, "connected to [::1]:25", id="ipv6-where"
        ),
    ],
)
def test_evaluate_tcp(outcome: TcpOutcome, spec: TcpSpec, state: State, words: str) -> None:
    """Connect time against its range; IPv6 addresses are bracketed in the text."""
    v = evaluate_tcp(outcome, spec)
    assert v.state is state
    assert words in v.text
