"""Services and SLA: the service overview behind the status page, one service's 90 days, and the
monthly SLA report (the document `watchd sla report --format json` prints)."""

from __future__ import annotations

from aiohttp import web

from watchd.api import statuspage
from watchd.api.app import ApiError, api_of, json_response, operation
from watchd.api.schemas import STR, err, json_body, obj, path_param, query, ref
from watchd.reports import availability as av

routes = web.RouteTableDef()


@routes.get("/api/v1/services")
@operation(
    "Services: state and availability over 24 h, 7 d, 30 d and 90 d", "services",
    {"200": json_body(obj({"services": {"type": "array", "items": ref("Service")}}), "OK")},
)  # fmt: skip
async def list_services(request: web.Request) -> web.Response:
    api = api_of(request)
    views = statuspage.overview(api, api.now(), days=0)
    return json_response({"services": [statuspage.view_dict(v, days=False) for v in views]})


@routes.get("/api/v1/services/{name}")
@operation(
    "One service with its last 90 days, one entry per local day", "services",
    {"200": json_body(ref("ServiceDetail"), "OK"), "404": err("no such service")},
    params=[path_param("name", "string", "service name")],
)  # fmt: skip
async def get_service(request: web.Request) -> web.Response:
    api = api_of(request)
    name = request.match_info["name"]
    if name not in av.services_of(api.config, api.daemon.config.checks):
        raise ApiError(404, f"no service {name!r}")
    [view] = statuspage.overview(api, api.now(), only=name)
    return json_response(statuspage.view_dict(view, days=True))


@routes.get("/api/v1/sla/report")
@operation(
    "SLA report for a month (as `watchd sla report --format json`)", "services",
    {"200": json_body(ref("SlaReport"), "OK"), "400": err("bad month"), "404": err("no such service")},
    params=[
        query("month", {"type": "string", "example": "2026-11"}, "default: this month"),
        query("service", STR, "one service (default all)"),
    ],
)  # fmt: skip
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
