"""Local stand-ins for the SaaS and self-hosted ticket systems that cannot run here, one aiohttp app
per system, each checking every request against that system's published REST API documentation
(the page is named in each module): path, method, auth header, content type, required fields; and
answering as documented (status codes, error bodies, 429 with Retry-After where documented).

A request the documentation does not allow is answered with the system's documented error *and*
recorded in `violations`; the tests assert there are none. The in-memory tickets let a test play
the person in the ticket system (`take`, `reply`, `close`) for two-way.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from servers.http import serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Comment:
    id: int
    author: str  # "watchd" or a person's name
    text: str
    at: float
    public: bool = False
    customer: bool = False


@dataclass
class StandInTicket:
    id: int
    key: str
    subject: str
    body: str
    priority: Any
    status: str  # the system's own status value
    fields: dict[str, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    owner: str | None = None
    closed_by: str | None = None
    events: list[tuple[int, str, str, str, float]] = field(default_factory=list)  # (id, kind, who, text, at)
    updated: float = 0.0


class StandIn:
    """The shared machinery: recording, violations, throttling, ids, a runner on 127.0.0.1:0."""

    name = "standin"

    def __init__(self) -> None:
        self.url = ""
        self.seen: list[Seen] = []
        self.violations: list[str] = []
        self.tickets: dict[int, StandInTicket] = {}
        self.throttle_next = 0  # answer this many requests with 429
        self.retry_after = "7"
        self.fail_next = 0  # answer this many requests with 503
        self.ids = itertools.count(101)
        self.event_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    # -- to implement ---------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def authorized(self, request: web.Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> web.StreamResponse:
        return web.json_response({"error": "unauthorized"}, status=401)

    def throttled(self) -> web.StreamResponse:
        return web.json_response(
            {"error": "rate limited"}, status=429, headers={"Retry-After": self.retry_after}
        )

    def config(self, secrets_dir: Any) -> dict[str, Any]:
        raise NotImplementedError

    def is_closed(self, t: StandInTicket) -> bool:
        raise NotImplementedError

    def take(self, ref: str, who: str) -> None:
        raise NotImplementedError

    def reply(self, ref: str, who: str, text: str) -> None:
        raise NotImplementedError

    def close(self, ref: str, who: str) -> None:
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------------

    def violation(self, text: str) -> None:
        self.violations.append(text)

    def ticket(self, ref: str) -> StandInTicket:
        return self.tickets[int(ref)]

    def by_key(self, key: str) -> list[StandInTicket]:
        return [t for t in self.tickets.values() if t.key == key]

    def watchd_comments(self, ref: str) -> list[str]:
        return [c.text for c in self.ticket(ref).comments if c.author == "watchd"]

    def new_ticket(
        self, key: str, subject: str, body: str, priority: Any, status: str, **fields: Any
    ) -> StandInTicket:
        t = StandInTicket(
            next(self.ids), key, subject, body, priority, status, dict(fields), updated=time.time()
        )
        self.tickets[t.id] = t
        return t

    def event(self, t: StandInTicket, kind: str, who: str, text: str = "") -> None:
        t.events.append((next(self.event_ids), kind, who, text, time.time()))
        t.updated = time.time()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body: Any = None
        raw = await request.read()
        if raw:
            try:
                body = await request.json()
            except ValueError:
                body = raw.decode("utf-8", "replace")
        self.seen.append(Seen(request.method, request.path, dict(request.query), dict(request.headers), body))
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return self.throttled()
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503, text="maintenance")
        if not self.authorized(request):
            return self.unauthorized()
        if request.method in ("POST", "PUT", "PATCH") and raw:
            ctype = request.headers.get("Content-Type", "")
            if not ctype.startswith("application/json"):
                self.violation(
                    f"{request.method} {request.path}: Content-Type {ctype!r}, documented application/json"
                )
                return web.json_response({"error": "unsupported media type"}, status=415)
        return await handler(request)

    async def start(self) -> None:
        app = web.Application(middlewares=[self.middleware])
        app.add_routes(self.routes())

        async def unknown(request: web.Request) -> web.StreamResponse:
            self.violation(f"{request.method} {request.path}: not a documented endpoint")
            return web.json_response({"error": "not found"}, status=404)

        app.router.add_route("*", "/{tail:.*}", unknown)
        self._runner, self.url = await serve(app, access_log=None)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def require(standin: StandIn, where: str, doc: Any, *names: str) -> bool:
    """Every `names` key present in `doc` (a dict); a violation otherwise."""
    if not isinstance(doc, dict):
        standin.violation(f"{where}: body is {type(doc).__name__}, documented a JSON object")
        return False
    missing = [n for n in names if doc.get(n) in (None, "")]
    if missing:
        standin.violation(f"{where}: missing required {', '.join(missing)}")
        return False
    return True
