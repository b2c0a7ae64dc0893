"""Read endpoints: health, checks, incidents, maintenance, services and SLA reports. No token."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import TYPE_CHECKING, Any

from aiohttp import web

from watchd import __version__
from watchd.api import availability as av
from watchd.api import statuspage
from watchd.api.common import ApiError, api_of, dumps, iso, json_response, query_choice, query_int
from watchd.core import sla
from watchd.core.model import CheckResult, CheckStatus, State, StateType
from watchd.core.priority import PRIORITIES
from watchd.delivery import outbox

if TYPE_CHECKING:
    from watchd.api.server import Api

routes = web.RouteTableDef()

STATES = tuple(s.name for s in State)
_NAME = {s: s.name for s in State}  # enum .name is a property; this is the hot path of /checks
_TYPE = {t: t.value for t in StateType}
INCIDENT_STATUSES = ("open", "resolved", "all")


# -- health -----------------------------------------------------------------------------------------


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """200 while ready (store writable, scheduler running); 503 otherwise. Details either way."""
    api = api_of(request)
    d = api.daemon
    store = d.store
    writable = bool(store is not None and store.writable())
    active = bool(d.scheduler.active)
    backlog: dict[str, int] = {}
    failing: list[str] = []
    if store is not None:
        backlog = outbox.backlog(store.db)
    if d.parts is not None:
        failing = sorted(c for c, h in d.parts.deliverer.health.items() if h.failing_since or h.permanent)
    mqtt = mqtt_status(d)
    ready = writable and active
    degraded = bool(failing) or mqtt == "disconnected"
    status = "unavailable" if not ready else "degraded" if degraded else "ok"
    data = {
        "status": status,
        "version": __version__,
        "host": d.config.host,
        "checks": {
            "store": {"ok": writable, "writable": writable},
            "scheduler": {
                "ok": active,
                "active": active,
                "running": d.scheduler.running,
                "started": d.scheduler.stats.started,
            },
            "outbox": {"ok": not failing, "backlog": backlog, "failing_channels": failing},
            "mqtt": {"ok": mqtt != "disconnected", "status": mqtt},
        },
    }
    return json_response(data, 200 if ready else 503)


def mqtt_status(daemon: Any) -> str:
    """'disabled' without a bus; else 'connected' or 'disconnected'."""
    bus = getattr(daemon, "bus", None)
    if bus is None:
        return "disabled"
    return "connected" if getattr(bus, "connected", False) else "disconnected"


# -- checks -----------------------------------------------------------------------------------------


def statuses(api: Api) -> dict[str, CheckStatus]:
    parts = api.daemon.parts
    if parts is None:
        raise ApiError(503, "the daemon is starting")
    return parts.state.statuses  # type: ignore[no-any-return]


def check_names(api: Api, sts: dict[str, CheckStatus]) -> list[str]:
    """Configured checks, then watchd's own (internal) checks that have a status."""
    configured = api.daemon.config.checks
    return sorted(configured) + sorted(n for n in sts if n not in configured)


def active_suppressions(db: sqlite3.Connection, now: float) -> tuple[set[str], av.Coverage]:
    silenced = {
        r[0]
        for r in db.execute(
            "SELECT check_name FROM silences WHERE removed_at IS NULL AND starts_at <= ? AND ends_at > ?",
            (now, now),
        )
    }
    return silenced, av.Coverage.load(db, now, now + 1e-3)


def check_dict(
    name: str,
    cfg: Any,
    st: CheckStatus | None,
    result: CheckResult | None,
    incident: int | None,
    silenced: bool,
    maintenance: bool,
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": name,
        "description": cfg.description if cfg is not None else "",
        "tags": list(cfg.tags) if cfg is not None else [],
        "enabled": cfg.enabled if cfg is not None else True,
        "internal": cfg is None,
        "interval_s": cfg.interval if cfg is not None else None,
    }
    if st is not None:
        d.update(
            state=_NAME[st.state],
            state_type=_TYPE[st.state_type],
            attempt=st.attempt,
            hard_state=_NAME[st.hard_state],
            flapping=st.flapping,
            last_check=iso(st.last_check),
            last_change=iso(st.last_change),
            last_hard_change=iso(st.last_hard_change),
            summary=st.summary,
        )
    else:
        d.update(state=None, state_type=None, attempt=None, hard_state=None, flapping=False,
                 last_check=None, last_change=None, last_hard_change=None, summary=None)  # fmt: skip
    d["duration_s"] = round(result.duration_s, 6) if result is not None else None
    d["incident"] = incident
    d["silenced"] = silenced
    d["in_maintenance"] = maintenance
    return d


@routes.get("/api/v1/checks")
async def list_checks(request: web.Request) -> web.Response:
    api = api_of(request)
    sts = statuses(api)
    wanted = request.query.get("state", "")
    states = {s.strip().upper() for s in wanted.split(",") if s.strip()}
    if states - set(STATES) - {"PENDING"}:
        raise ApiError(400, f"state: expected a list of {', '.join(STATES)}, PENDING")
    problems = query_choice(request, "problems", ("true", "false")) == "true"
    tag = request.query.get("tag")
    store = api.daemon.store
    now = api.now()
    incidents = {
        r[0]: r[1] for r in store.db.execute("SELECT check_name, id FROM incidents WHERE status = 'open'")
    }
    silenced, coverage = active_suppressions(store.db, now)
    configured = api.daemon.config.checks
    results = getattr(api.daemon, "last_results", {})
    cache = api.fragments
    out = []
    for name in check_names(api, sts):
        cfg = configured.get(name)
        st = sts.get(name)
        state = _NAME[st.state] if st is not None else "PENDING"
        if states and state not in states:
            continue
        if problems and (st is None or st.state is State.OK):
            continue
        tags = cfg.tags if cfg is not None else ()
        if tag and tag not in tags:
            continue
        in_maintenance = bool(coverage.windows) and bool(coverage.excluded(name, tags))
        result = results.get(name)
        key = (st, cfg, result, incidents.get(name), name in silenced, in_maintenance)
        hit = cache.get(name)
        if hit is None or hit[0] != key:  # statuses, configs, results are replaced, never changed
            hit = cache[name] = (key, dumps(check_dict(name, cfg, st, result, *key[3:])))
        out.append(hit[1])
    if not (states or problems or tag) and len(cache) > len(out):
        api.fragments = {n: cache[n] for n in check_names(api, sts)}  # forget removed checks
    body = f'{{"checks":[{",".join(out)}],"count":{len(out)}}}'
    return web.Response(text=body, content_type="application/json")


@routes.get("/api/v1/checks/{name}")
async def get_check(request: web.Request) -> web.Response:
    api = api_of(request)
    name = request.match_info["name"]
    sts = statuses(api)
    cfg = api.daemon.config.checks.get(name)
    st = sts.get(name)
    if cfg is None and st is None:
        raise ApiError(404, f"no check {name!r}")
    limit = query_int(request, "history", 100, 0, 10_000)
    store = api.daemon.store
    now = api.now()
    row = store.db.execute(
        "SELECT id FROM incidents WHERE check_name = ? AND status = 'open' ORDER BY id DESC LIMIT 1", (name,)
    ).fetchone()
    silenced, coverage = active_suppressions(store.db, now)
    tags = tuple(getattr(cfg, "tags", ())) if cfg is not None else ()
    result = getattr(api.daemon, "last_results", {}).get(name)
    data = check_dict(
        name, cfg, st, result, row[0] if row else None, name in silenced, bool(coverage.excluded(name, tags))
    )
    data["last_result"] = (
        None if result is None else {**result.to_dict(), "started_at": iso(result.started_at) or None}
    )
    data["history"] = [
        {
            "at": iso(c.at),
            "kind": c.kind,
            "previous": c.previous.name,
            "state": c.state.name,
            "state_type": c.state_type.value,
            "attempt": c.attempt,
            "summary": c.summary,
        }
        for c in (store.changes(name, limit=limit) if limit else [])
    ]
    return json_response(data)


# -- incidents --------------------------------------------------------------------------------------


def incident_rows(db: sqlite3.Connection, where: str, args: list[Any]) -> list[dict[str, Any]]:
    cur = db.execute(f"SELECT * FROM incidents {where}", args)
    cols = [c[0] for c in cur.description]
    return [incident_dict(dict(zip(cols, row, strict=True))) for row in cur.fetchall()]


_TIMES = ("opened_at", "updated_at", "respond_by", "resolve_by", "resolved_at", "acked_at",
          "response_breached_at", "resolution_breached_at", "last_notified_at")  # fmt: skip


def incident_dict(row: dict[str, Any]) -> dict[str, Any]:
    from watchd.core.model import incident_key

    d = dict(row)
    d["check"] = d.pop("check_name")
    d["key"] = incident_key(d["host"], d["check"], d["id"])
    d["state"] = State(d["state"]).name
    d["flapping"] = bool(d["flapping"])
    for k in _TIMES:
        if k in d:
            d[k] = iso(d[k])
    return d


@routes.get("/api/v1/incidents")
async def list_incidents(request: web.Request) -> web.Response:
    api = api_of(request)
    status = query_choice(request, "status", INCIDENT_STATUSES) or "all"
    priorities = [p.strip().upper() for p in request.query.get("priority", "").split(",") if p.strip()]
    if set(priorities) - set(PRIORITIES):
        raise ApiError(400, f"priority: expected a list of {', '.join(PRIORITIES)}")
    states = [s.strip().upper() for s in request.query.get("state", "").split(",") if s.strip()]
    if set(states) - set(STATES):
        raise ApiError(400, f"state: expected a list of {', '.join(STATES)}")
    limit = query_int(request, "limit", 100, 1, 1000)
    where: list[str] = ["1=1"]
    args: list[object] = []
    if status != "all":
        where.append("status = ?")
        args.append(status)
    if priorities:
        where.append(f"priority IN ({','.join('?' * len(priorities))})")
        args += priorities
    if states:
        where.append(f"state IN ({','.join('?' * len(states))})")
        args += [int(State[s]) for s in states]
    if request.query.get("check"):
        where.append("check_name = ?")
        args.append(request.query["check"])
    rows = incident_rows(
        api.daemon.store.db, f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*args, limit]
    )
    return json_response({"incidents": rows, "count": len(rows)})


def incident_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"incident id must be a number, not {raw!r}") from None


@routes.get("/api/v1/incidents/{id}")
async def get_incident(request: web.Request) -> web.Response:
    api = api_of(request)
    iid = incident_id(request)
    db = api.daemon.store.db
    rows = incident_rows(db, "WHERE id = ?", [iid])
    if not rows:
        raise ApiError(404, f"no incident #{iid}")
    data = rows[0]
    from watchd.store import incidents as incident_store

    data["events"] = [
        dataclasses.asdict(e) | {"state": e.state.name, "at": iso(e.at)}
        for e in incident_store.events(db, iid)
    ]
    data["deliveries"] = [
        {
            "row": r[0],
            "channel": r[1],
            "kind": r[2],
            "status": r[3],
            "attempts": r[4],
            "error": r[5],
            "ticket": r[6],
            "created_at": iso(r[7]),
            "done_at": iso(r[8]),
        }
        for r in db.execute(
            "SELECT o.id, o.channel, o.kind, o.status, o.attempts, o.last_error, t.ref, o.created_at,"
            " o.done_at FROM outbox o"
            " LEFT JOIN ticket_refs t ON t.incident_id = o.incident_id AND t.channel = o.channel"
            " WHERE o.incident_id = ? ORDER BY o.id",
            (iid,),
        )
    ]
    raw = db.execute(
        "SELECT id, check_name, priority, opened_at, acked_at, resolved_at, response_breached_at,"
        " resolution_breached_at FROM incidents WHERE id = ?",
        (iid,),
    ).fetchone()
    times = sla.IncidentTimes(*raw)
    policy = api.daemon.config.incidents.priority
    now = api.now()
    data["sla"] = {
        "response": av.target_dict(sla.response(times, policy, now)),
        "resolution": av.target_dict(sla.resolution(times, policy, now)),
    }
    return json_response(data)


# -- maintenance ------------------------------------------------------------------------------------


@routes.get("/api/v1/maintenance")
async def maintenance(request: web.Request) -> web.Response:
    """Downtimes and silences that are active now or start later (removed ones are left out)."""
    api = api_of(request)
    db = api.daemon.store.db
    now = api.now()
    downtimes = [
        {
            "id": r[0],
            "scope": r[1],
            "target": r[2],
            "starts_at": iso(r[3]),
            "ends_at": iso(r[4]),
            "comment": r[5],
            "created_by": r[6],
            "announce": bool(r[7]),
            "created_at": iso(r[8]),
            "active": r[3] <= now < r[4],
        }
        for r in db.execute(
            "SELECT id, scope, target, starts_at, ends_at, comment, created_by, announce, created_at"
            " FROM downtimes WHERE removed_at IS NULL AND ends_at > ? ORDER BY starts_at, id",
            (now,),
        )
    ]
    silences = [
        {
            "id": r[0],
            "check": r[1],
            "starts_at": iso(r[2]),
            "ends_at": iso(r[3]),
            "created_by": r[4],
            "comment": r[5],
            "created_at": iso(r[6]),
            "active": r[2] <= now < r[3],
        }
        for r in db.execute(
            "SELECT id, check_name, starts_at, ends_at, created_by, comment, created_at FROM silences"
            " WHERE removed_at IS NULL AND ends_at > ? ORDER BY starts_at, id",
            (now,),
        )
    ]
    windows = []
    if api.windows is not None:
        for w in api.windows(now, now + statuspage.UPCOMING_DAYS * av.DAY):
            if isinstance(w, tuple):
                a, b, scope, target = w[:4]
                windows.append({"starts_at": iso(a), "ends_at": iso(b), "scope": scope, "target": target})
            else:
                windows.append(
                    {
                        "key": getattr(w, "key", None),
                        "starts_at": iso(w.starts_at),
                        "ends_at": iso(w.ends_at),
                        "comment": getattr(w, "comment", ""),
                        "announce": bool(getattr(w, "announce", False)),
                    }
                )
    return json_response({"downtimes": downtimes, "silences": silences, "windows": windows})


# -- services and SLA -------------------------------------------------------------------------------


@routes.get("/api/v1/services")
async def list_services(request: web.Request) -> web.Response:
    api = api_of(request)
    views = statuspage.overview(api, api.now(), days=0)
    return json_response({"services": [statuspage.view_dict(v, days=False) for v in views]})


@routes.get("/api/v1/services/{name}")
async def get_service(request: web.Request) -> web.Response:
    api = api_of(request)
    name = request.match_info["name"]
    if name not in av.services_of(api.config, api.daemon.config.checks):
        raise ApiError(404, f"no service {name!r}")
    [view] = statuspage.overview(api, api.now(), only=name)
    return json_response(statuspage.view_dict(view, days=True))


@routes.get("/api/v1/sla/report")
async def sla_report(request: web.Request) -> web.Response:
    api = api_of(request)
    now = api.now()
    cfg = api.config
    month = request.query.get("month") or av.current_month(now, cfg.timezone)
    try:
        start, end = av.month_period(month, cfg.timezone)
    except ValueError as exc:
        raise ApiError(400, f"month: {exc}") from None
    services = av.services_of(cfg, api.daemon.config.checks)
    chosen = None
    if request.query.get("service"):
        svc = services.get(request.query["service"])
        if svc is None:
            raise ApiError(404, f"no service {request.query['service']!r}")
        chosen = [svc]
    report = av.build_report(
        api.daemon.store.db,
        cfg,
        api.daemon.config.checks,
        api.daemon.config.incidents.priority,
        start,
        end,
        now,
        month,
        chosen,
        api.windows,
        live=True,
    )
    return json_response(av.report_dict(report))
