"""The one place that owns the Api object (what every handler reads: the daemon, the API config,
the clock, the maintenance windows, response caches) and the helpers every route module shares:
JSON responses and errors, the error middleware, the bearer-token guard, request-body parsing and
the `operation` marker from which the OpenAPI document is built. Route modules import this module;
it imports none of them."""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from aiohttp import web

from watchd.api import schemas
from watchd.config.api import ApiConfig, TokenError
from watchd.control import actions
from watchd.core import timespec
from watchd.core.clock import Clock
from watchd.core.model import CheckStatus
from watchd.reports import availability as av
from watchd.reports.availability import WindowSource, recurring_windows


class Api:
    def __init__(
        self,
        daemon: Any,
        config: ApiConfig,
        clock: Clock | None = None,
        windows: WindowSource | None = None,
    ) -> None:
        """`daemon` is a watchd.daemon.Daemon (typed loosely so tests can pass a stand-in);
        `windows(start, end)` gives recurring maintenance windows for SLA figures and the status
        page (default: the daemon config's `maintenance.windows`, read at each use)."""
        self.daemon = daemon
        self.config = config
        self.clock: Clock = clock or daemon.clock
        self.windows = windows or recurring_windows(lambda: self.daemon.config)
        self.fragments: dict[str, tuple[tuple[object, ...], str]] = {}  # /api/v1/checks, per check
        self.status_cache: tuple[float, str] | None = None  # (rendered at, HTML) of /status

    def now(self) -> float:
        return self.clock.time()

    def reconfigure(self, config: ApiConfig) -> None:
        """A reload: token, status page and services apply at once; listen address and port only
        after a restart."""
        self.config = config
        self.status_cache = None


log = structlog.get_logger("watchd.api")

API: web.AppKey[Api] = web.AppKey("watchd_api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request that cannot be served; becomes `{"error": message, ...extra}` with `status`."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=dumps)


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    return json_response({"error": message, **extra}, status, headers)


def iso(t: float | None) -> str | None:
    """UTC ISO 8601 for an answer; a stored time beyond year 9999 (written by an older version,
    which did not bound times) shows as 9999-12-31T00:00:00Z rather than failing the request."""
    return av.iso(timespec.renderable(t))


def api_of(request: web.Request) -> Api:
    return request.app[API]


def statuses(api: Api) -> dict[str, CheckStatus]:
    parts = api.daemon.parts
    if parts is None:
        raise ApiError(503, "the daemon is starting")
    return parts.state.statuses  # type: ignore[no-any-return]


def kick_delivery(api: Api) -> None:
    """What a write queued (ticket updates, notices, PagerDuty) goes out now, not at the outbox's
    next poll; the bus's incident snapshots follow."""
    if api.daemon.parts is not None:
        api.daemon.parts.deliverer.kick()
    refresh_bus(api)


def refresh_bus(api: Api) -> None:
    """A write changed incidents or maintenance: the bus's retained snapshots follow at once, not
    at the mirror's next sweep (the daemon's own writes do not move the store's data_version)."""
    refresh = getattr(api.daemon, "refresh_bus", None)
    if refresh is not None:
        refresh()


def mqtt_status(daemon: Any) -> str:
    """'disabled' without a bus; else 'connected' or 'disconnected'."""
    bus = getattr(daemon, "bus", None)
    if bus is None:
        return "disabled"
    return "connected" if getattr(bus, "connected", False) else "disconnected"


def operation(
    summary: str,
    tag: str,
    responses: dict[str, Any],
    params: Sequence[dict[str, Any]] = (),
    request_body: dict[str, Any] | None = None,
    body_required: bool = True,
) -> Callable[[Handler], Handler]:
    """Describe a handler for the OpenAPI document (watchd.api.openapi builds it from the router:
    path, method, path parameters and, for `writes` handlers, security and their error answers)."""

    def mark(handler: Handler) -> Handler:
        op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
        if params:
            op["parameters"] = list(params)
        if request_body is not None:
            op["requestBody"] = {
                "required": body_required,
                "content": {"application/json": {"schema": request_body}},
            }
        handler.openapi = op  # type: ignore[attr-defined]
        return handler

    return mark


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes JSON; an unexpected exception is a 500 and a log line, never a crash."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")}
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 404:
            message = f"no such resource: {request.path}"
        elif exc.status == 405:
            message = f"method {request.method} not allowed on {request.path}"
        return error_response(exc.status, message, headers)
    except Exception as exc:
        log.exception("api request failed", method=request.method, path=request.path)
        return error_response(500, f"internal error ({type(exc).__name__}); the daemon's log has details")


TURN: web.AppKey[asyncio.Lock] = web.AppKey("watchd_api_turn")


@web.middleware
async def one_at_a_time(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Handlers run one after another, each in its own loop iteration: a burst of concurrent
    requests cannot hold the loop for the sum of their run times, so the scheduler's timers get
    their turn between two requests (handlers are synchronous work of a few milliseconds)."""
    async with request.app[TURN]:
        return await handler(request)


def writes(handler: Handler) -> Handler:
    """Guard a write endpoint: 403 when no token is configured, 401 without or with a wrong token."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        api = api_of(request)
        try:
            token = api.config.token()
        except TokenError as exc:
            log.error("api token unavailable; writes refused", error=str(exc))
            raise ApiError(503, f"writes unavailable: {exc}") from None
        if token is None:
            raise ApiError(
                403, "writes are disabled: no api token configured (api.token_file or api.token_env)"
            )
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise ApiError(401, "this endpoint needs 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(value.strip().encode(), token.encode()):
            log.warning("api write with a wrong token", path=request.path, peer=request.remote)
            raise ApiError(401, "wrong token")
        return await handler(request)

    guarded.writes = True  # type: ignore[attr-defined]  # read by the OpenAPI test
    return guarded


async def body(request: web.Request) -> dict[str, Any]:
    """The JSON object in the request body (an empty body is an empty object)."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except RecursionError:  # a body of many `[`: json.loads gives up with this, not a ValueError
        raise ApiError(400, "request body is not valid JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


class Fields:
    """Typed access to a request body (or query) that collects problems like the config Reader."""

    def __init__(self, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
        self.data = data
        self.problems: list[str] = [f"{k}: unknown field" for k in data if k not in allowed]

    def text(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        v = self.data.get(key)
        if v is None:
            if required:
                self.problems.append(f"{key}: is required")
            return default
        if not isinstance(v, str):
            self.problems.append(f"{key}: expected a string")
            return default
        if not _encodable(v):
            self.problems.append(f"{key}: not valid Unicode text (a lone surrogate)")
            return default
        if required and not v.strip():
            self.problems.append(f"{key}: must not be empty")
        return v

    def flag(self, key: str, default: bool = False) -> bool:
        v = self.data.get(key, default)
        if not isinstance(v, bool):
            self.problems.append(f"{key}: expected true or false")
            return default
        return v

    def time(self, key: str, default: float | None = None) -> float | None:
        v = self.data.get(key)
        if v is None:
            return default
        try:
            return parse_time(v)
        except ValueError as exc:
            self.problems.append(f"{key}: {exc}")
            return default

    def duration(self, key: str) -> float | None:
        v = self.data.get(key)
        if v is None:
            return None
        try:
            return timespec.span(v)
        except ValueError as exc:
            self.problems.append(f"{key}: {exc}")
            return None

    def check(self) -> None:
        if self.problems:
            raise ApiError(400, "; ".join(self.problems), problems=self.problems)


def parse_time(value: Any) -> float:
    """Epoch seconds, or ISO 8601 (a time without a zone is UTC), within timespec's range."""
    return timespec.instant(value, naive_utc=True)


def _encodable(text: str) -> bool:
    """JSON may carry lone surrogates (\\ud800); they can be neither stored nor answered."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


_ID = re.compile(r"-?[0-9]+")


def path_id(request: web.Request, what: str) -> int:
    """The `{id}` of the path: 400 if it is no integer, 404 if no row can have it (beyond SQLite's
    64-bit integers, or below 1)."""
    raw = request.match_info["id"]
    if not _ID.fullmatch(raw):
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise ApiError(400, f"{what} id must be a number, not {shown!r}")
    n = int(raw) if len(raw) <= 30 else 0  # longer: far beyond any row id (and int() may refuse it)
    if not actions.valid_id(n):
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise ApiError(404, f"no {what} #{shown}")
    return n


def query_value(request: web.Request, key: str) -> str | None:
    """The one value of a query parameter (None: not given)."""
    values = request.query.getall(key, [])
    if len(values) > 1:
        raise ApiError(400, f"{key}: given {len(values)} times; give it once")
    return values[0] if values else None


def query_choice(request: web.Request, key: str, choices: tuple[str, ...]) -> str | None:
    v = query_value(request, key)
    if v is None:
        return None
    if v not in choices:
        raise ApiError(400, f"{key}: expected one of {', '.join(choices)}, not {_shown(v)}")
    return v


_INT = re.compile(r"-?[0-9]{1,18}")  # ASCII digits only: int() also takes " 5", "5_0", Arabic-Indic digits


def query_int(request: web.Request, key: str, default: int, lo: int, hi: int) -> int:
    v = query_value(request, key)
    if v is None:
        return default
    if not _INT.fullmatch(v):
        raise ApiError(400, f"{key}: expected an integer, not {_shown(v)}")
    n = int(v)
    if not lo <= n <= hi:
        raise ApiError(400, f"{key}: must be between {lo} and {hi}")
    return n


def query_list(request: web.Request, key: str, words: tuple[str, ...]) -> list[str]:
    """A comma-separated list of `words` (any case), as schemas.csv_pattern documents it; [] if not given."""
    v = query_value(request, key)
    if v is None:
        return []
    if not re.fullmatch(schemas.csv_pattern(words), v):
        raise ApiError(400, f"{key}: expected a comma-separated list of {', '.join(words)}, not {_shown(v)}")
    return [w.strip(" ").upper() for w in v.split(",") if w.strip(" ")]


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:60] + "...")


def actor(f: Fields) -> tuple[str, str]:
    """Who acts (`by`, default "api") and why (`comment`), bounded in length as documented."""
    raw_by = f.text("by", "api") or "api"
    comment = f.text("comment", "") or ""
    if len(raw_by) > schemas.MAX_BY or len(comment) > schemas.MAX_COMMENT:
        limits = f"{schemas.MAX_BY} / {schemas.MAX_COMMENT}"
        f.problems.append(f"by/comment: too long (at most {limits} characters)")
    return raw_by.strip() or "api", comment
