"""Write endpoints (bearer token): ack/resolve incidents, silences, downtimes, run a check, reload.

Every change goes through `watchd.actions`, the functions the CLI uses, so it is one store
transaction with the ticket updates it implies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from watchd.api.common import ApiError, Fields, api_of, body, iso, json_response, writes
from watchd.api.routes_read import incident_id, incident_rows, statuses
from watchd.control import actions

if TYPE_CHECKING:
    from watchd.api.server import Api

routes = web.RouteTableDef()

MAX_TEXT = 2000


def _who(f: Fields) -> tuple[str, str]:
    by = (f.text("by", "api") or "api").strip() or "api"
    comment = f.text("comment", "") or ""
    if len(by) > 200 or len(comment) > MAX_TEXT:
        f.problems.append(f"by/comment: too long (at most 200 / {MAX_TEXT} characters)")
    return by, comment


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


async def _incident_action(request: web.Request, action: Any) -> web.Response:
    api = api_of(request)
    iid = incident_id(request)
    f = Fields(await body(request), ("by", "comment"))
    by, comment = _who(f)
    f.check()
    db = api.daemon.store.db
    if db.execute("SELECT 1 FROM incidents WHERE id = ?", (iid,)).fetchone() is None:
        raise ApiError(404, f"no incident #{iid}")
    try:
        action(api.daemon.store, iid, by, comment, api.now())
    except actions.ActionError as exc:
        raise ApiError(409, str(exc)) from None
    _kick(api)
    return json_response(incident_rows(db, "WHERE id = ?", [iid])[0])


def _kick(api: Api) -> None:
    """Queued ticket updates go out now rather than at the deliverer's next poll."""
    if api.daemon.parts is not None:
        api.daemon.parts.deliverer.kick()


@routes.post("/api/v1/incidents/{id}/ack")
@writes
async def ack_incident(request: web.Request) -> web.Response:
    return await _incident_action(request, actions.ack)


@routes.post("/api/v1/incidents/{id}/resolve")
@writes
async def resolve_incident(request: web.Request) -> web.Response:
    return await _incident_action(request, actions.resolve)


@routes.post("/api/v1/silences")
@writes
async def add_silence(request: web.Request) -> web.Response:
    api = api_of(request)
    now = api.now()
    f = Fields(await body(request), ("check", "starts_at", "ends_at", "duration", "by", "comment"))
    check = f.text("check", required=True)
    starts, ends = _span(f, now)
    by, comment = _who(f)
    if check and (problem := actions.target_problem(api.daemon.config, "check", check, statuses(api))):
        f.problems.append(f"check: {problem[1]}")
    f.check()
    assert check is not None
    try:
        sid = actions.add_silence(api.daemon.store, check, starts, ends, by, comment, now)
    except actions.ActionError as exc:
        raise ApiError(400, str(exc)) from None
    data = {"id": sid, "check": check, "starts_at": iso(starts), "ends_at": iso(ends), "created_by": by,
            "comment": comment}  # fmt: skip
    return json_response(data, 201, {"Location": f"/api/v1/maintenance#silence-{sid}"})


@routes.delete("/api/v1/silences/{id}")
@writes
async def remove_silence(request: web.Request) -> web.Response:
    api = api_of(request)
    sid = _int_id(request)
    try:
        actions.remove_silence(api.daemon.store, sid, api.now())
    except actions.ActionError as exc:
        raise ApiError(404, str(exc)) from None
    return json_response({"removed": sid})


@routes.post("/api/v1/downtimes")
@writes
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
    by, comment = _who(f)
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
    data = {"id": did, "scope": scope, "target": target, "starts_at": iso(starts), "ends_at": iso(ends),
            "created_by": by, "comment": comment, "announce": announce}  # fmt: skip
    return json_response(data, 201, {"Location": f"/api/v1/maintenance#downtime-{did}"})


@routes.delete("/api/v1/downtimes/{id}")
@writes
async def remove_downtime(request: web.Request) -> web.Response:
    api = api_of(request)
    did = _int_id(request)
    try:
        actions.remove_downtime(api.daemon.store, did, api.now())
    except actions.ActionError as exc:
        raise ApiError(404, str(exc)) from None
    return json_response({"removed": did})


def _int_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"id must be a number, not {raw!r}") from None


@routes.post("/api/v1/checks/{name}/run")
@writes
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


@routes.post("/api/v1/reload")
@writes
async def reload_config(request: web.Request) -> web.Response:
    """Reload the config file; a bad one is refused (422) and the running config stays."""
    api = api_of(request)
    errors = await api.daemon.reload()
    if errors:
        raise ApiError(422, "configuration rejected; the running configuration stays", errors=errors)
    return json_response({"reloaded": True, "checks": len(api.daemon.config.checks)})
