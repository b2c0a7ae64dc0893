"""The console's HTTP side: ops pages (login required), customer pages (`/s/<customer>`, public), the
fleet JSON, graphs as SVG, and the forms that send signed commands to hosts.

Server-rendered HTML from Jinja2 templates with autoescaping; every page works without JavaScript (the
dashboard refreshes itself with a meta refresh). Writes are POST forms behind login and CSRF (auth.py);
each answers with a redirect to the host's page, where the host's answer to the command is shown.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2
from aiohttp import web

from watchd.bus import commands as signed
from watchd.console import dashboard, graphs, history, rollup
from watchd.console.auth import Auth, auth_middleware, csrf_token, current_user, login_routes, require_role
from watchd.console.authpolicy import Role, User
from watchd.console.commands import CommandSender
from watchd.console.config import ConsoleConfig
from watchd.console.history import History
from watchd.console.view import FleetView
from watchd.core import timefmt


@dataclass
class Console:
    """What the pages read: shared by the subscriber (writer) and the handlers (readers), one loop."""

    cfg: ConsoleConfig
    view: FleetView
    history: History
    sender: CommandSender
    now: Callable[[], float] = time.time
    owners: dashboard.Owners = field(init=False)
    pages: jinja2.Environment = field(init=False)

    def __post_init__(self) -> None:
        self.owners = dashboard.Owners(self.cfg)
        self.pages = templates()


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)
routes = web.RouteTableDef()


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("watchd.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ago"] = _ago
    env.filters["left"] = _left
    env.globals["local"] = timefmt.local
    return env


def render(request: web.Request, name: str, status: int = 200, **ctx: Any) -> web.Response:
    c = request.app[CONSOLE]
    ctx.setdefault("title", c.cfg.title)
    html = c.pages.get_template(name).render(
        user=current_user(request), csrf=csrf_token(request) or "", zone=c.cfg.timezone, now=c.now(), **ctx
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=NO_STORE)


NO_STORE = {"Cache-Control": "no-store"}


def _ago(t: float | None, now: float) -> str:
    if t is None:
        return "never"
    return _span(now - t) + " ago" if now >= t else "in " + _span(t - now)


def _left(seconds: float) -> str:
    return ("breached " + _span(-seconds) + " ago") if seconds < 0 else _span(seconds) + " left"


def _span(s: float) -> str:
    s = int(abs(s))
    if s < 90:
        return f"{s}s"
    if s < 5400:
        return f"{s // 60}m"
    if s < 2 * 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _user(request: web.Request) -> User:
    """The middleware already sent anyone without a login to /login; this is the belt to its braces."""
    user = current_user(request)
    if user is None:
        raise web.HTTPUnauthorized(text="log in first")
    return user


def _history(c: Console) -> sqlite3.Connection:
    """The history as of now: what the subscriber queued in the last second is written first."""
    c.history.flush()
    return c.history.db


def _host(c: Console, name: str) -> Any:
    h = c.view.hosts.get(name)
    if h is None:
        raise web.HTTPNotFound(text=f"no host {name!r} on the bus")
    return h


# -- ops pages ---------------------------------------------------------------------------------------


@routes.get("/")
async def dashboard_page(request: web.Request) -> web.Response:
    _user(request)
    c = request.app[CONSOLE]
    now = c.now()
    board = dashboard.build(c.view, c.owners, now)
    return render(request, "dashboard.html", board=board, month=month_of(now, c.cfg.timezone))


@routes.get("/api/v1/fleet")
async def fleet(request: web.Request) -> web.Response:
    _user(request)
    c = request.app[CONSOLE]
    return web.json_response(dashboard.fleet_json(c.view, c.owners, c.now()), headers=NO_STORE)


@routes.get("/api/v1/hosts/{host}")
async def host_json(request: web.Request) -> web.Response:
    _user(request)
    c = request.app[CONSOLE]
    h = _host(c, request.match_info["host"])
    return web.json_response(dashboard.host_json(h, c.owners, c.now()), headers=NO_STORE)


@routes.get("/hosts")
async def hosts_page(request: web.Request) -> web.Response:
    _user(request)
    c = request.app[CONSOLE]
    customer = request.query.get("customer")
    names = sorted(
        h for h in c.view.hosts if customer is None or c.owners[h] == ("" if customer == "-" else customer)
    )
    return render(
        request, "hosts.html", hosts=[c.view.hosts[n] for n in names], customer=customer,
        customers=c.cfg.customers, owners=c.owners,
    )  # fmt: skip


@routes.get("/host/{host}")
async def host_page(request: web.Request) -> web.Response:
    _user(request)
    c = request.app[CONSOLE]
    h = _host(c, request.match_info["host"])
    now = c.now()
    incidents = [dashboard.incident_row(h.name, d, now, c.cfg.ticket_urls) for d in h.incidents.values()]
    sent = [s for s in c.sender.recent if s.host == h.name][:20]
    silent = h.silent(now, c.cfg.silent_after, c.cfg.mqtt.heartbeat_interval)
    return render(
        request, "host.html", host=h, incidents=incidents, sent=sent,
        customer=c.cfg.customers.get(c.owners[h.name]), silent=silent,
        commands=c.sender.enabled, answer=request.query.get("answer"),
        checks=sorted(h.checks.values(), key=lambda x: x.name),
    )  # fmt: skip


@routes.get("/host/{host}/check/{check}")
async def check_page(request: web.Request) -> web.Response:
    _user(request)
    c = request.app[CONSOLE]
    h = _host(c, request.match_info["host"])
    name = request.match_info["check"]
    check = h.checks.get(name)
    if check is None:
        raise web.HTTPNotFound(text=f"no check {name!r} on {h.name}")
    now = c.now()
    changes = _history(c).execute(
        "SELECT at, state, hard_state, summary FROM state_changes WHERE host = ? AND check_name = ?"
        " ORDER BY at DESC LIMIT 50",
        (h.name, name),
    ).fetchall()
    has_graph = bool(history.series_of(c.history.db, h.name, name))
    return render(
        request, "check.html", host=h, check=check, changes=changes, windows=list(rollup.WINDOWS),
        has_graph=has_graph, stamp=int(now // 60),
    )  # fmt: skip


@routes.get("/graph/{host}/{check}/{window}.svg")
async def graph(request: web.Request) -> web.Response:
    _user(request)
    c = request.app[CONSOLE]
    host, check, window = (request.match_info[k] for k in ("host", "check", "window"))
    if window not in rollup.WINDOWS:
        raise web.HTTPNotFound(text=f"windows are {', '.join(rollup.WINDOWS)}")
    now = c.now()
    start = now - rollup.WINDOWS[window]
    series, unit, warn, crit = [], "", None, None
    db = _history(c)
    for sid, label, uom, w, cr in history.series_of(db, host, check):
        points = history.points(db, sid, start, now)
        series.append(graphs.Series(label, rollup.rollup(points, start, now)))
        if not series[1:]:  # thresholds and unit of the first series: one value axis per graph
            unit, warn, crit = uom, w, cr
    svg = graphs.render(
        series, start, now, title=f"{check} on {host}, last {window}", now=now, unit_of_measure=unit,
        warn=warn, crit=crit, tz=c.cfg.timezone,
    )  # fmt: skip
    cache = {"Cache-Control": "private, max-age=60"}
    return web.Response(text=svg, content_type="image/svg+xml", headers=cache)


# -- actions -----------------------------------------------------------------------------------------


@routes.post("/host/{host}/command/{verb}")
async def command(request: web.Request) -> web.Response:
    user = require_role(request, Role.OPERATOR)
    c = request.app[CONSOLE]
    h = _host(c, request.match_info["host"])
    verb = request.match_info["verb"]
    if verb not in signed.VERBS:
        raise web.HTTPNotFound(text=f"commands are {', '.join(signed.VERBS)}")
    form = await request.post()
    try:
        args = command_args(verb, {k: str(v) for k, v in form.items() if k != "csrf"}, user.name)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if not c.sender.enabled:
        raise web.HTTPServiceUnavailable(text="commands need mqtt.command_secret_file in the console config")
    sent = await c.sender.send(h.name, verb, args, user.name, c.cfg.command_timeout)
    raise web.HTTPSeeOther(f"/host/{_quote(h.name)}?answer={sent.nonce}#commands")


def command_args(verb: str, form: dict[str, str], by: str) -> dict[str, Any]:
    """The signed command's args from a form; ValueError names the field. The host checks them again."""
    comment = form.get("comment", "").strip()[:500]
    extra = {"comment": comment} if comment else {}  # the host refuses an empty comment
    if verb == "run":
        return {"check": _field(form, "check")}
    if verb == "ack":
        incident = _field(form, "incident")
        if not incident.isdigit():
            raise ValueError("incident: expected an incident number")
        return {"incident": int(incident), "by": by, **extra}
    length = _field(form, "for")
    if verb == "silence":
        return {"check": _field(form, "check"), "for": length, "by": by, **extra}
    scope = form.get("scope", "host")
    args: dict[str, Any] = {"scope": scope, "for": length, "by": by, **extra}
    if scope != "host":
        args["target"] = _field(form, "target")
    if form.get("start", "").strip():
        args["start"] = form["start"].strip()
    return args


def _field(form: dict[str, str], key: str) -> str:
    value = form.get(key, "").strip()
    if not value:
        raise ValueError(f"{key}: is required")
    return value


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@routes.get("/report/{customer}/{month}.{fmt}")
async def report_page(request: web.Request) -> web.Response:
    """A customer's SLA report for ops; `?internal=1` adds host and check names."""
    _user(request)
    from watchd.console import report
    from watchd.console.reportformats import FORMATS

    c = request.app[CONSOLE]
    customer = c.cfg.customers.get(request.match_info["customer"])
    fmt = request.match_info["fmt"]
    if customer is None or fmt not in FORMATS:
        raise web.HTTPNotFound(text=f"no such report (formats: {', '.join(FORMATS)})")
    internal = request.query.get("internal") == "1"
    try:
        rep = report.build(_history(c), customer, request.match_info["month"], c.now(), internal, c.view)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    types = {"text": "text/plain", "json": "application/json", "csv": "text/csv", "html": "text/html"}
    return web.Response(text=FORMATS[fmt](rep), content_type=types[fmt], headers=NO_STORE)


# -- customer pages ------------------------------------------------------------------------------------


@routes.get("/s/{customer}")
async def customer_page(request: web.Request) -> web.Response:
    c = request.app[CONSOLE]
    customer = c.cfg.customers.get(request.match_info["customer"])
    if customer is None:
        raise web.HTTPNotFound(text="no such status page")
    from watchd.console import customerpage

    page = customerpage.build(c.view, _history(c), customer, c.now())
    return render(request, "customer.html", page=page, customer=customer, title=f"{customer.name} status")


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    c = request.app[CONSOLE]
    return web.json_response({"hosts": len(c.view.hosts), "messages": c.view.messages}, headers=NO_STORE)


def month_of(t: float, zone: str) -> str:
    return dt.datetime.fromtimestamp(t, timefmt.zone(zone)).strftime("%Y-%m")


def make_app(console: Console, auth: Auth) -> web.Application:
    app = web.Application(middlewares=[auth_middleware(auth)], client_max_size=64 * 1024)
    app[CONSOLE] = console
    app.add_routes(routes)
    app.add_routes(login_routes(auth))
    return app
