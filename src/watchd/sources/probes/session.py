"""One aiohttp ClientSession per event loop (and address family), shared by every HTTP probe.

A session is bound to the loop it was created on, so the pool is keyed by loop; it is created on first
use and closed by `close_shared_sessions()`, which the daemon awaits at shutdown (tests call it too).
Connections are not kept alive between probes (`force_close`) and DNS answers are not cached: a probe
must exercise a fresh connect and a fresh lookup each time, or it would miss exactly the failures it is
there to see (a dead listener behind a pooled connection, a broken DNS record behind a cached answer).
"""

from __future__ import annotations

import asyncio
import socket
import weakref
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp

import watchd

USER_AGENT = f"watchd/{watchd.__version__} (monitoring probe)"
MAX_CONNECTIONS = 256  # the scheduler's concurrency limit is the real bound; this is a backstop

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(slots=True)
class Phase:
    """Where a request is, so that a timeout can say what it was waiting for."""

    now: str = "starting"


async def _set_phase(name: str, ctx: SimpleNamespace) -> None:
    phase = getattr(ctx, "trace_request_ctx", None)
    if isinstance(phase, Phase):
        phase.now = name


def _tracing() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    def hook(name: str) -> Any:
        async def on(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: object) -> None:
            await _set_phase(name, ctx)

        return on

    trace.on_dns_resolvehost_start.append(hook("resolving the host name"))
    trace.on_connection_create_start.append(hook("connecting"))
    trace.on_connection_create_end.append(hook("waiting for the response headers"))
    trace.on_request_end.append(hook("reading the body"))
    trace.on_request_redirect.append(hook("following a redirect"))
    return trace


def shared_session(family: int = 0) -> aiohttp.ClientSession:
    """The running loop's session for `family` (0 = any, socket.AF_INET, socket.AF_INET6)."""
    loop = asyncio.get_running_loop()
    per_loop = _sessions.setdefault(loop, {})
    session = per_loop.get(family)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(
            family=socket.AddressFamily(family), force_close=True, use_dns_cache=False, limit=MAX_CONNECTIONS
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # probes must not carry state from one run to the next
            trust_env=False,  # proxies are configured per check, not inherited from the environment
            headers={"User-Agent": USER_AGENT},
            trace_configs=[_tracing()],
        )
        per_loop[family] = session
    return session


async def close_shared_sessions() -> None:
    """Close the running loop's sessions; the daemon awaits this at shutdown."""
    loop = asyncio.get_running_loop()
    for session in _sessions.pop(loop, {}).values():
        await session.close()
