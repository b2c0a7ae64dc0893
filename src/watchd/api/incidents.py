"""Incidents: list and detail (timeline, deliveries, SLA targets), acknowledge and resolve.

Writes go through `watchd.control.actions`, the functions the CLI uses, so each is one store
transaction with the ticket updates it implies."""

from __future__ import annotations

import dataclasses
import sqlite3
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
    kick_delivery,
    operation,
    path_id,
    query_choice,
    query_int,
    query_list,
    query_value,
    writes,
)
from watchd.api.checks import STATES
from watchd.api.schemas import ACTOR, INCIDENT_ID, INT, STR, csv_query, err, json_body, obj, query, ref
from watchd.control import actions
from watchd.core import sla
from watchd.core.model import State, incident_key
from watchd.core.priority import PRIORITIES
from watchd.reports import availability as av
from watchd.store import incidents as incident_store

routes = web.RouteTableDef()

INCIDENT_STATUSES = ("open", "resolved", "all")
INCIDENT_WRITE: dict[str, Any] = {
    "responses": {
        "200": json_body(ref("Incident"), "done; the incident as it is now"),
        "404": err("no such incident (or an id no incident can have)"),
        "409": err("not possible in the incident's state (resolved, already acknowledged)"),
    },
    "params": [INCIDENT_ID],
    "request_body": ACTOR,
    "body_required": False,
}

def incident_rows(db: sqlite3.Connection, where: str, args: list[Any]) -> list[dict[str, Any]]:
    cur = db.execute(f"SELECT * FROM incidents {where}", args)
    cols = [c[0] for c in cur.description]
    return [incident_dict(dict(zip(cols, row, strict=True))) for row in cur.fetchall()]


_TIMES = ("opened_at", "updated_at", "respond_by", "resolve_by", "resolved_at", "acked_at",
          "response_breached_at", "resolution_breached_at", "last_notified_at")  # fmt: skip


def incident_dict(row: dict[str, Any]) -> dict[str, Any]:

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
@operation(
    "Incidents, newest first", "incidents",
    {"200": json_body(obj({"incidents": {"type": "array", "items": ref("Incident")}, "count": INT}), "OK"),
     "400": err("bad filter")},
    params=[
        query("status", {"type": "string", "enum": ["open", "resolved", "all"]}, "default all"),
        csv_query("priority", PRIORITIES, "comma-separated, e.g. P1,P2"),
        csv_query("state", STATES, "comma-separated check states"),
        query("check", STR, "one check's incidents"),
        query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, ""),
    ],
)  # fmt: skip
async def list_incidents(request: web.Request) -> web.Response:
    api = api_of(request)
    status = query_choice(request, "status", INCIDENT_STATUSES) or "all"
    priorities = query_list(request, "priority", PRIORITIES)
    states = query_list(request, "state", STATES)
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
    check = query_value(request, "check")
    if check:
        where.append("check_name = ?")
        args.append(check)
    rows = incident_rows(
        api.daemon.store.db, f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*args, limit]
    )
    return json_response({"incidents": rows, "count": len(rows)})


def incident_id(request: web.Request) -> int:
    return path_id(request, "incident")


@routes.get("/api/v1/incidents/{id}")
@operation(
    "One incident with its timeline, deliveries and SLA targets", "incidents",
    {"200": json_body(ref("IncidentDetail"), "OK"), "400": err("bad id"), "404": err("no such incident")},
    params=[INCIDENT_ID],
)  # fmt: skip
async def get_incident(request: web.Request) -> web.Response:
    api = api_of(request)
    iid = incident_id(request)
    db = api.daemon.store.db
    rows = incident_rows(db, "WHERE id = ?", [iid])
    if not rows:
        raise ApiError(404, f"no incident #{iid}")
    data = rows[0]

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
    pager, inc = getattr(api.daemon, "pager", None), incident_store.get(db, iid)
    name, next_at = pager.next_page(db, inc) if pager is not None and inc is not None else (None, None)
    data["paging"] = {"policy": name, "next_page_at": iso(next_at)}
    return json_response(data)




async def _incident_action(request: web.Request, action: Any) -> web.Response:
    api = api_of(request)
    iid = incident_id(request)
    f = Fields(await body(request), ("by", "comment"))
    by, comment = actor(f)
    f.check()
    db = api.daemon.store.db
    if db.execute("SELECT 1 FROM incidents WHERE id = ?", (iid,)).fetchone() is None:
        raise ApiError(404, f"no incident #{iid}")
    try:
        action(api.daemon.store, iid, by, comment, api.now())
    except actions.ActionError as exc:
        raise ApiError(409, str(exc)) from None
    kick_delivery(api)
    return json_response(incident_rows(db, "WHERE id = ?", [iid])[0])


@routes.post("/api/v1/incidents/{id}/ack")
@writes
@operation("Acknowledge an incident", "incidents", **INCIDENT_WRITE)
async def ack_incident(request: web.Request) -> web.Response:
    return await _incident_action(request, actions.ack)


@routes.post("/api/v1/incidents/{id}/resolve")
@writes
@operation("Resolve an incident by hand", "incidents", **INCIDENT_WRITE)
async def resolve_incident(request: web.Request) -> web.Response:
    return await _incident_action(request, actions.resolve)
