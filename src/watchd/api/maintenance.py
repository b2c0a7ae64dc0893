"""Maintenance: downtimes and silences (list, add, remove) and upcoming recurring windows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from aiohttp import web

from watchd.api.app import (
    ApiError,
    Fields,
    actor,
    api_of,
    body,
    iso,
    json_response,
    operation,
    path_id,
    refresh_bus,
    statuses,
    writes,
)
from watchd.api.schemas import (
    DOWNTIME,
    DOWNTIME_IN,
    INT,
    SILENCE,
    SILENCE_IN,
    err,
    json_body,
    obj,
    path_param,
)
from watchd.api.serviceview import UPCOMING_DAYS
from watchd.control import actions
from watchd.reports import availability as av
from watchd.store import Store

routes = web.RouteTableDef()


@routes.get("/api/v1/maintenance")
@operation(
    "Downtimes and silences active now or later; upcoming recurring windows", "maintenance",
    {"200": json_body(obj({"downtimes": {"type": "array", "items": DOWNTIME},
                           "silences": {"type": "array", "items": SILENCE},
                           "windows": {"type": "array", "items": {"type": "object"}}}), "OK")},
)  # fmt: skip
async def maintenance(request: web.Request) -> web.Response:
    """Downtimes and silences that are active now or start later (removed ones are left out)."""
    api = api_of(request)
    db = api.daemon.store.db
    now = api.now()
    downtimes = _upcoming(
        db, "downtimes", now,
        "id, scope, target, starts_at, ends_at, comment, created_by, announce, created_at",
    )  # fmt: skip
    silences = _upcoming(
        db, "silences", now, "id, check_name AS 'check', starts_at, ends_at, created_by, comment, created_at"
    )
    windows = []
    if api.windows is not None:
        for w in api.windows(now, now + UPCOMING_DAYS * av.DAY):
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


def _upcoming(db: sqlite3.Connection, table: str, now: float, columns: str) -> list[dict[str, Any]]:
    """Rows of `table` (downtimes or silences) not removed and not over, soonest first."""
    cur = db.execute(
        f"SELECT {columns} FROM {table} WHERE removed_at IS NULL AND ends_at > ? ORDER BY starts_at, id",
        (now,),
    )
    names = [c[0] for c in cur.description]
    rows = []
    for values in cur:
        row = dict(zip(names, values, strict=True))
        row["active"] = row["starts_at"] <= now < row["ends_at"]
        for key in ("starts_at", "ends_at", "created_at"):
            row[key] = iso(row[key])
        if "announce" in row:
            row["announce"] = bool(row["announce"])
        rows.append(row)
    return rows


def _span(f: Fields, now: float) -> tuple[float, float]:
    """starts_at (default now) and ends_at, or a duration instead of ends_at."""
    starts = f.time("starts_at", now)
    ends = f.time("ends_at")
    duration = f.duration("duration")
    if ends is not None and duration is not None:
        f.problems.append("ends_at: give ends_at or duration, not both")
    elif (
        ends is None
        and duration is None
        and not any(p.startswith(("ends_at", "duration")) for p in f.problems)
    ):
        f.problems.append("ends_at: is required (or duration, like 2h)")
    assert starts is not None
    return starts, ends if ends is not None else starts + (duration or 0.0)


@routes.post("/api/v1/silences")
@writes
@operation(
    "Silence a check (no tickets or notifications; results still recorded)", "maintenance",
    {"201": json_body(obj({}, required=[], extra=True), "created")},
    request_body=SILENCE_IN,
)  # fmt: skip
async def add_silence(request: web.Request) -> web.Response:
    api = api_of(request)
    now = api.now()
    f = Fields(await body(request), ("check", "starts_at", "ends_at", "duration", "by", "comment"))
    check = f.text("check", required=True)
    starts, ends = _span(f, now)
    by, comment = actor(f)
    if check and (problem := actions.target_problem(api.daemon.config, "check", check, statuses(api))):
        f.problems.append(f"check: {problem[1]}")
    f.check()
    assert check is not None
    try:
        sid = actions.add_silence(api.daemon.store, check, starts, ends, by, comment, now)
    except actions.ActionError as exc:
        raise ApiError(400, str(exc)) from None
    refresh_bus(api)
    data = {"id": sid, "check": check, "starts_at": iso(starts), "ends_at": iso(ends), "created_by": by,
            "comment": comment}  # fmt: skip
    return json_response(data, 201, {"Location": f"/api/v1/maintenance#silence-{sid}"})


@routes.delete("/api/v1/silences/{id}")
@writes
@operation(
    "Remove a silence", "maintenance",
    {"200": json_body(obj({"removed": INT}), "removed"), "404": err("no active silence with this id")},
    params=[path_param("id", "integer", "silence id")],
)  # fmt: skip
async def remove_silence(request: web.Request) -> web.Response:
    return _remove(request, "silence", actions.remove_silence)


@routes.post("/api/v1/downtimes")
@writes
@operation(
    "Add a maintenance window (excluded from availability)", "maintenance",
    {"201": json_body(obj({}, required=[], extra=True), "created")},
    request_body=DOWNTIME_IN,
)  # fmt: skip
async def add_downtime(request: web.Request) -> web.Response:
    api = api_of(request)
    now = api.now()
    f = Fields(
        await body(request),
        ("scope", "target", "starts_at", "ends_at", "duration", "by", "comment", "announce"),
    )
    scope = f.text("scope", "host") or "host"
    target = f.text("target", None)
    starts, ends = _span(f, now)
    by, comment = actor(f)
    announce = f.flag("announce", False)
    if scope == "host":
        target = target or api.daemon.config.host
    if problem := actions.target_problem(api.daemon.config, scope, target, statuses(api)):
        f.problems.append(f"{problem[0]}: {problem[1]}")
    f.check()
    assert target is not None
    try:
        did = actions.add_downtime(api.daemon.store, scope, target, starts, ends, by, comment, announce, now)
    except actions.ActionError as exc:
        raise ApiError(400, str(exc)) from None
    refresh_bus(api)
    data = {"id": did, "scope": scope, "target": target, "starts_at": iso(starts), "ends_at": iso(ends),
            "created_by": by, "comment": comment, "announce": announce}  # fmt: skip
    return json_response(data, 201, {"Location": f"/api/v1/maintenance#downtime-{did}"})


@routes.delete("/api/v1/downtimes/{id}")
@writes
@operation(
    "Cancel a downtime", "maintenance",
    {"200": json_body(obj({"removed": INT}), "removed"), "404": err("no active downtime with this id")},
    params=[path_param("id", "integer", "downtime id")],
)  # fmt: skip
async def remove_downtime(request: web.Request) -> web.Response:
    return _remove(request, "downtime", actions.remove_downtime)


def _remove(
    request: web.Request, what: str, remove: Callable[[Store, int, float], object]
) -> web.Response:
    api = api_of(request)
    row_id = path_id(request, what)
    try:
        remove(api.daemon.store, row_id, api.now())
    except actions.ActionError as exc:
        raise ApiError(404, str(exc)) from None
    refresh_bus(api)
    return json_response({"removed": row_id})

