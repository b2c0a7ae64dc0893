"""The OpenAPI document matches the server: same routes, same auth, and live responses validate."""

from __future__ import annotations

import time
from typing import Any

import jsonschema
import pytest
from apihelpers import Env, response_schema

from watchd.api.app import Api
from watchd.api.openapi import DOC
from watchd.api.server import build_app
from watchd.config.api import ApiConfig

METHODS = ("get", "post", "put", "patch", "delete")


APP = build_app(Api.__new__(Api))
DOCUMENT = APP[DOC]


def router_operations() -> dict[tuple[str, str], Any]:
    """(path template, method) -> handler, from a freshly built app."""
    app = APP
    out = {}
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside every GET
        out[(route.resource.canonical, route.method.lower())] = route.handler
    return out


def documented_operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {(p, m): op for p, item in DOCUMENT["paths"].items() for m, op in item.items() if m in METHODS}


def test_every_route_is_documented() -> None:
    """Each route the server has is in the document."""
    missing = set(router_operations()) - set(documented_operations())
    assert not missing, f"undocumented: {sorted(missing)}"


def test_every_documented_operation_exists() -> None:
    """Each documented path and method is served."""
    extra = set(documented_operations()) - set(router_operations())
    assert not extra, f"documented but not served: {sorted(extra)}"


def test_write_endpoints_are_exactly_the_secured_ones() -> None:
    """Handlers guarded by the token are the operations documented with bearer security."""
    docs = documented_operations()
    for key, handler in router_operations().items():
        guarded = getattr(handler, "writes", False)
        assert guarded == ("security" in docs[key]), key
        if guarded:
            assert {"401", "403"} <= set(docs[key]["responses"]), key


def test_path_parameters_are_declared() -> None:
    """Every {param} in a path is declared as a required path parameter."""
    for (path, _), op in documented_operations().items():
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, path


def test_refs_resolve() -> None:
    """Every $ref points at a schema in components."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                assert ref.removeprefix("#/components/schemas/") in DOCUMENT["components"]["schemas"], ref
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(DOCUMENT)


# -- live responses against the schemas -------------------------------------------------------------


def schema_for(path: str, method: str, status: int) -> dict[str, Any]:
    return response_schema(DOCUMENT, path, method, status)


async def check(env: Env, method: str, template: str, url: str, body: Any = None) -> tuple[int, Any]:
    status, data = await env.client.call(method.upper(), url, body)
    jsonschema.validate(data, schema_for(template, method, status))
    return status, data


async def test_live_responses_match_the_document(env: Env) -> None:
    """Each operation, driven through its main outcomes, answers as documented."""
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    await env.daemon.run_check("db")
    soon = time.time() + 600
    calls = [
        ("get", "/healthz", "/healthz", None, 200),
        ("get", "/api/v1/checks", "/api/v1/checks", None, 200),
        ("get", "/api/v1/checks", "/api/v1/checks?state=nope", None, 400),
        ("get", "/api/v1/checks/{name}", "/api/v1/checks/web", None, 200),
        ("get", "/api/v1/checks/{name}", "/api/v1/checks/zzz", None, 404),
        ("get", "/api/v1/incidents", "/api/v1/incidents?status=open", None, 200),
        ("get", "/api/v1/incidents/{id}", "/api/v1/incidents/1", None, 200),
        ("get", "/api/v1/incidents/{id}", "/api/v1/incidents/7", None, 404),
        ("post", "/api/v1/incidents/{id}/ack", "/api/v1/incidents/1/ack", {"by": "al"}, 200),
        ("post", "/api/v1/incidents/{id}/ack", "/api/v1/incidents/1/ack", {}, 409),
        ("post", "/api/v1/incidents/{id}/resolve", "/api/v1/incidents/1/resolve", {}, 200),
        ("post", "/api/v1/silences", "/api/v1/silences", {"check": "db", "duration": 60}, 201),
        ("post", "/api/v1/silences", "/api/v1/silences", {"check": "db"}, 400),
        ("post", "/api/v1/downtimes", "/api/v1/downtimes", {"starts_at": soon, "duration": 60}, 201),
        ("get", "/api/v1/maintenance", "/api/v1/maintenance", None, 200),
        ("delete", "/api/v1/silences/{id}", "/api/v1/silences/1", None, 200),
        ("delete", "/api/v1/downtimes/{id}", "/api/v1/downtimes/9", None, 404),
        ("post", "/api/v1/checks/{name}/run", "/api/v1/checks/db/run", None, 202),
        ("get", "/api/v1/services", "/api/v1/services", None, 200),
        ("get", "/api/v1/services/{name}", "/api/v1/services/shop", None, 200),
        ("get", "/api/v1/services/{name}", "/api/v1/services/none", None, 404),
        ("get", "/api/v1/sla/report", "/api/v1/sla/report", None, 200),
        ("get", "/api/v1/sla/report", "/api/v1/sla/report?month=2026-13", None, 400),
        ("post", "/api/v1/reload", "/api/v1/reload", None, 200),
        ("get", "/api/v1/openapi.json", "/api/v1/openapi.json", None, 200),
    ]  # fmt: skip
    for method, template, url, body, expected in calls:
        status, _ = await check(env, method, template, url, body)
        assert status == expected, (method, url)
    status, _ = await env.client.call("POST", "/api/v1/reload", token="bad")
    jsonschema.validate(_, schema_for("/api/v1/reload", "post", status))
    env.api.reconfigure(ApiConfig(port=0))
    status, data = await env.client.call("POST", "/api/v1/reload")
    assert status == 403
    jsonschema.validate(data, schema_for("/api/v1/reload", "post", 403))


@pytest.mark.parametrize("path", ["/metrics", "/status"])
async def test_non_json_operations_serve_their_documented_type(env: Env, path: str) -> None:
    """/metrics is text/plain and /status is text/html, as documented."""
    async with env.client.session.get(env.client.base + path) as resp:
        assert resp.status == 200
        [ctype] = DOCUMENT["paths"][path]["get"]["responses"]["200"]["content"]
        assert resp.headers["Content-Type"].startswith(ctype)
