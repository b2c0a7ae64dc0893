"""`tcp`: connect to host:port, optionally send a line and expect a banner or answer.

The connect time is the figure (`time`); with `send`/`expect`, `response_time` covers the exchange.
Reading stops as soon as the expectation matches, at EOF, or at `read_limit` bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
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
from watchd.sources.probes.failures import os_error_reason
from watchd.sources.verdict import Figure, Verdict, seconds

DEFAULT_READ_LIMIT = 4096
FAMILIES = {0: socket.AF_UNSPEC, 4: socket.AF_INET, 6: socket.AF_INET6}


@dataclass(frozen=True, slots=True)
class TcpSpec:
    host: str
    port: int
    family: int = socket.AF_UNSPEC
    send: bytes | None = None
    expect: str | None = None  # substring
    expect_regex: re.Pattern[str] | None = None
    read_limit: int = DEFAULT_READ_LIMIT
    time: Thresholds = field(default_factory=Thresholds)
    timeout: float | None = None

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def expects(self) -> bool:
        return self.expect is not None or self.expect_regex is not None

    def describe_expect(self) -> str:
        if self.expect is not None:
            return repr(self.expect)
        return f"/{self.expect_regex.pattern}/" if self.expect_regex is not None else "nothing"

    def matches(self, text: str) -> bool:
        if self.expect is not None:
            return self.expect in text
        return self.expect_regex is not None and self.expect_regex.search(text) is not None


@dataclass(slots=True)
class TcpOutcome:
    """Filled in as the probe goes, so a timeout still knows how far it got."""

    connect_s: float | None = None
    total_s: float | None = None
    received: bytearray = field(default_factory=bytearray)
    eof: bool = False


def evaluate_tcp(o: TcpOutcome, s: TcpSpec) -> Verdict:
    """Judge a probe that connected (connect_s is set)."""
    assert o.connect_s is not None
    time_fig = Figure("time", o.connect_s, f"connect time {seconds(o.connect_s)}", "s", s.time, 0)
    perf = [time_fig.perf]
    faults: list[tuple[State, str]] = []
    if time_fig.state is not State.OK:
        faults.append((time_fig.state, time_fig.problem_text()))
    text = _text(o.received)
    if s.expects:
        if o.total_s is not None:
            perf.append(Figure("response_time", o.total_s, "", "s", Thresholds(), 0).perf)
        if not s.matches(text):
            why = "connection closed" if o.eof else f"read limit of {s.read_limit} bytes reached"
            faults.append(
                (State.CRITICAL, f"answer did not match {s.describe_expect()} ({why}, got {_excerpt(text)})")
            )
    lines = [f"received: {_excerpt(text, 200)}"] if o.received else []
    if faults:
        return Verdict(
            worst(*(st for st, _ in faults)), ", ".join(t for _, t in faults), tuple(perf), "\n".join(lines)
        )
    ok = f"connected to {s.where} in {seconds(o.connect_s)}"
    if s.expects:
        ok += f", answer matched {s.describe_expect()}"
    return Verdict(State.OK, ok, tuple(perf), "\n".join(lines))


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def _excerpt(text: str, limit: int = 60) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return repr(first[:limit] + ("..." if len(first) > limit else "")) if first else "nothing"


class TcpProbe(Probe):
    kind = "TCP"

    def __init__(self, name: str, spec: TcpSpec, *, clock: Clock | None = None) -> None:
        super().__init__(name, clock=clock)
        self.spec = spec

    def own_timeout(self) -> float | None:
        return self.spec.timeout

    async def probe(self, limit: float, t0: float) -> Verdict:
        outcome = TcpOutcome()
        try:
            async with asyncio.timeout(limit):
                await self._probe(outcome)
            verdict = evaluate_tcp(outcome, self.spec)
        except TimeoutError:
            if outcome.connect_s is None:
                verdict = _critical(f"timed out after {limit:g}s connecting to {self.spec.where}")
            else:
                got = _excerpt(_text(outcome.received))
                waited = f"waiting for {self.spec.describe_expect()} from {self.spec.where}"
                verdict = _critical(f"timed out after {limit:g}s {waited} (got {got})")
        except OSError as exc:
            verdict = _critical(os_error_reason(exc, self.spec.host, self.spec.port))
        return verdict

    async def _probe(self, o: TcpOutcome) -> None:
        s = self.spec
        t0 = self.clock.monotonic()
        reader, writer = await asyncio.open_connection(s.host, s.port, family=s.family)
        o.connect_s = self.clock.monotonic() - t0
        try:
            if s.send is not None:
                writer.write(s.send)
                await writer.drain()
            if s.expects:
                while len(o.received) < s.read_limit and not s.matches(_text(o.received)):
                    chunk = await reader.read(s.read_limit - len(o.received))
                    if not chunk:
                        o.eof = True
                        break
                    o.received += chunk
                o.total_s = self.clock.monotonic() - t0
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _critical(text: str) -> Verdict:
    return Verdict(State.CRITICAL, text, reason=text)


def host_port(p: Params) -> tuple[str, int]:
    host = p.required_text("host").strip()
    if p.raw("port") is None:
        raise p.error("port", "required")
    return host, p.integer("port", 0, min=1, max=65535)


def family_param(p: Params) -> int:
    version = p.integer("ip_version", 0)
    if version not in FAMILIES:
        raise p.error("ip_version", f"expected 4 or 6, got {version}")
    return FAMILIES[version]


@register("tcp")
def build_tcp(name: str, params: Mapping[str, Any], ctx: BuildContext) -> TcpProbe:
    p = Params(params)
    host, port = host_port(p)
    send = p.text("send")
    expect = p.text("expect")
    expect_regex = p.regex("expect_regex")
    if expect is not None and expect_regex is not None:
        raise p.error("expect_regex", "give expect or expect_regex, not both")
    spec = TcpSpec(
        host=host,
        port=port,
        family=family_param(p),
        send=None if send is None else send.encode(),
        expect=expect,
        expect_regex=expect_regex,
        read_limit=p.integer("read_limit", DEFAULT_READ_LIMIT, min=1, max=1 << 20),
        time=p.thresholds("warning", "critical"),
        timeout=p.optional_number("timeout", min=0.001),
    )
    p.done()
    return TcpProbe(name, spec)
