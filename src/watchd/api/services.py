"""Services and SLA: the service overview behind the status page, one service's 90 days, and the
monthly SLA report (the document `watchd sla report --format json` prints)."""

from __future__ import annotations

import re

from aiohttp import web

from watchd.api import serviceview
from watchd.api.app import ApiError, api_of, json_response, operation, query_value
from watchd.api.schemas import STR, err, json_body, obj, path_param, query, ref
from watchd.reports import availability as av

routes = web.RouteTableDef()
MONTH_PATTERN = r"^[0-9]{4}-[0-9]{2}$"  # then month_period checks the month and the year range


@routes.get("/api/v1/services")
@operation(
    "Services: state and availability over 24 h, 7 d, 30 d and 90 d", "services",
    {"200": json_body(obj({"services": {"type": "array", "items": ref("Service")}}), "OK")},
)  # fmt: skip
async def list_services(request: web.Request) -> web.Response:
    api = api_of(request)
    views = serviceview.overview(api, api.now(), days=0)
    return json_response({"services": [serviceview.view_dict(v, days=False) for v in views]})


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
    [view] = serviceview.overview(api, api.now(), only=name)
    return json_response(serviceview.view_dict(view, days=True))


@routes.get("/api/v1/sla/report")
@operation(
    "SLA report for a month (as `watchd sla report --format json`)", "services",
    {"200": json_body(ref("SlaReport"), "OK"), "400": err("bad month"), "404": err("no such service")},
    params=[
        query("month", {"type": "string", "pattern": MONTH_PATTERN, "example": "2026-11"},
              "default: this month; 2000-01 to 2099-12"),
        query("service", STR, "one service (default all)"),
    ],
)  # fmt: skip
async def sla_report(request: web.Request) -> web.Response:
    api = api_of(request)
    now = api.now()
    cfg = api.config
    month = query_value(request, "month")
    if month is None:
        month = av.current_month(now, cfg.timezone)
    try:
        if not re.fullmatch(MONTH_PATTERN, month):
            raise ValueError(f"expected a month like 2026-11, not {month[:40]!r}")
        start, end = av.month_period(month, cfg.timezone)
    except ValueError as exc:
        raise ApiError(400, f"month: {exc}") from None
    services = av.services_of(cfg, api.daemon.config.checks)
    chosen = None
    wanted = query_value(request, "service")
    if wanted:
        svc = services.get(wanted)
        if svc is None:
            raise ApiError(404, f"no service {wanted!r}")
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
