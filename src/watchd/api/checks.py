"""Checks: every check with its state (cached per check: the hot read of dashboards), one check
with its last result and history, and "run now"."""

from __future__ import annotations

import sqlite3
from typing import Any

from aiohttp import web

from watchd.api.app import (
    Api,
    ApiError,
    api_of,
    dumps,
    iso,
    json_response,
    operation,
    query_choice,
    query_int,
    query_list,
    query_value,
    statuses,
    writes,
)
from watchd.api.schemas import (
    BOOL,
    CHECK_NAME,
    INT,
    STARTING,
    STR,
    csv_query,
    err,
    json_body,
    obj,
    query,
    ref,
)
from watchd.core.model import CheckResult, CheckStatus, State, StateType
from watchd.reports import availability as av

routes = web.RouteTableDef()

STATES = tuple(s.name for s in State)
_NAME = {s: s.name for s in State}  # enum .name is a property; this is the hot path of /checks
_TYPE = {t: t.value for t in StateType}

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
@operation(
    "Every check with its current state", "checks",
    {"200": json_body(obj({"checks": {"type": "array", "items": ref("Check")}, "count": INT}), "OK"),
     "400": err("bad filter"), "503": STARTING},
    params=[
        csv_query("state", (*STATES, "PENDING"), "comma-separated states, e.g. CRITICAL,UNKNOWN, PENDING"),
        query("problems", {"type": "string", "enum": ["true", "false"]}, "only non-OK"),
        query("tag", STR, "only checks with this tag"),
    ],
)  # fmt: skip
async def list_checks(request: web.Request) -> web.Response:
    api = api_of(request)
    sts = statuses(api)
    states = set(query_list(request, "state", (*STATES, "PENDING")))
    problems = query_choice(request, "problems", ("true", "false")) == "true"
    tag = query_value(request, "tag")
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
@operation(
    "One check: state, last result with perfdata, state history", "checks",
    {"200": json_body(ref("CheckDetail"), "OK"), "400": err("bad parameter"), "404": err("no such check"),
     "503": STARTING},
    params=[
        CHECK_NAME,
        query("history", {"type": "integer", "minimum": 0, "maximum": 10000, "default": 100},
              "state changes to include, newest first"),
    ],
)  # fmt: skip
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


@routes.post("/api/v1/checks/{name}/run")
@writes
@operation(
    "Run a check now", "checks",
    {"202": json_body(obj({"check": STR, "queued": BOOL}), "queued"), "404": err("no such check"),
     "409": err("the check is not scheduled")},
    params=[CHECK_NAME],
)  # fmt: skip
async def run_check(request: web.Request) -> web.Response:
    """Queue a run now (202): the result arrives through the pipeline like any other."""
    api = api_of(request)
    name = request.match_info["name"]
    cfg = api.daemon.config.checks.get(name)
    if cfg is None:
        raise ApiError(404, f"no check {name!r}")
    if not api.daemon.scheduler.run_now(name):
        raise ApiError(409, f"check {name!r} is not scheduled (disabled, or the daemon is stopping)")
    return json_response({"check": name, "queued": True}, 202)
