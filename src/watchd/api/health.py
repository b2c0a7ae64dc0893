"""Health and administration: `/healthz` (readiness with details) and `POST /api/v1/reload`."""

from __future__ import annotations

from aiohttp import web

from watchd import __version__
from watchd.api.app import ApiError, api_of, json_response, mqtt_status, operation, writes
from watchd.api.schemas import BOOL, INT, err, json_body, obj, ref
from watchd.delivery import outbox

routes = web.RouteTableDef()


@routes.get("/healthz")
@operation(
    "Liveness and readiness with details", "health",
    {"200": json_body(ref("Health"), "ready (status ok or degraded)"),
     "503": json_body(ref("Health"), "not ready: store not writable or scheduler stopped")},
)  # fmt: skip
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


@routes.post("/api/v1/reload")
@writes
@operation(
    "Reload the configuration file", "admin",
    {"200": json_body(obj({"reloaded": BOOL, "checks": INT}), "reloaded"),
     "422": err("configuration rejected; `errors` lists why; the old one keeps running")},
)  # fmt: skip
async def reload_config(request: web.Request) -> web.Response:
    """Reload the config file; a bad one is refused (422) and the running config stays."""
    api = api_of(request)
    errors = await api.daemon.reload()
    if errors:
        raise ApiError(422, "configuration rejected; the running configuration stays", errors=errors)
    return json_response({"reloaded": True, "checks": len(api.daemon.config.checks)})
