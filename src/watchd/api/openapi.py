"""The OpenAPI 3 document of the HTTP API, served at `/api/v1/openapi.json`.

Built from the router, so the document cannot drift from the server: every route contributes its
path and method, its `{param}`s, and the operation its handler was marked with (`app.operation`);
a handler guarded by `app.writes` gets the bearer security and the write errors. A route without
an operation is a programming error, caught when the document is first built.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from watchd import __version__
from watchd.api.app import json_response, operation
from watchd.api.schemas import COMPONENTS, SECURED, WRITE_ERRORS, json_body, path_param

routes = web.RouteTableDef()
DOC: web.AppKey[dict[str, Any]] = web.AppKey("watchd_openapi")

DESCRIPTION = (
    "Health, checks, incidents, maintenance, services and SLA of one watchd daemon. Reads need no token; "
    "writes need `Authorization: Bearer <token>` (api.token_file or api.token_env). Times are UTC ISO 8601."
)
_PARAM = re.compile(r"\{(\w+)\}")


def document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside every GET
        path = route.resource.canonical if route.resource is not None else ""
        spec = getattr(route.handler, "openapi", None)
        if spec is None:
            raise RuntimeError(f"{route.method} {path}: handler has no @operation")
        op: dict[str, Any] = {**spec, "responses": dict(spec["responses"])}
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        implicit = [
            path_param(n, "integer" if n == "id" else "string", n) for n in _PARAM.findall(path)
            if n not in declared
        ]  # fmt: skip
        if implicit or "parameters" in op:
            op["parameters"] = implicit + list(op.get("parameters", []))
        if getattr(route.handler, "writes", False):
            op["security"] = SECURED
            op["responses"] = {**WRITE_ERRORS, **op["responses"]}
        paths.setdefault(path, {})[route.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "watchd API", "version": __version__, "description": DESCRIPTION},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": COMPONENTS,
        },
        "paths": dict(sorted(paths.items())),
    }


@routes.get("/api/v1/openapi.json")
@operation("This document", "meta", {"200": json_body({"type": "object"}, "OK")})
async def openapi_json(request: web.Request) -> web.Response:
    return json_response(request.app[DOC])  # built by server.build_app once the routes are added
