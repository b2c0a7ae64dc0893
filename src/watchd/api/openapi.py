"""The OpenAPI 3 document of the HTTP API, served at `/api/v1/openapi.json`.

Written by hand next to the routes; tests/api/test_openapi.py checks that every route is documented
and every documented operation exists, and validates live responses against these schemas.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from watchd import __version__
from watchd.api.common import json_response

routes = web.RouteTableDef()


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


STR = {"type": "string"}
NSTR = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time", "nullable": True, "example": "2026-11-23T10:00:00Z"}
INT = {"type": "integer"}
NINT = {"type": "integer", "nullable": True}
NUM = {"type": "number"}
NNUM = {"type": "number", "nullable": True}
BOOL = {"type": "boolean"}
STATE = {"type": "string", "enum": ["OK", "WARNING", "CRITICAL", "UNKNOWN"]}
NSTATE = {**STATE, "nullable": True, "enum": [*STATE["enum"], None]}


def _obj(props: dict[str, Any], required: list[str] | None = None, extra: bool = False) -> dict[str, Any]:
    o: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": extra}
    o["required"] = list(props) if required is None else required
    return o


WRITE_ERRORS = {
    "400": _err("bad input; `problems` lists what was wrong"),
    "401": _err("no or wrong bearer token"),
    "403": _err("writes are disabled (no token configured)"),
    "503": _err("the configured token cannot be read"),
}
SECURED: list[dict[str, list[str]]] = [{"bearer": []}]

AVAIL_PROPS: dict[str, Any] = {
    "availability_percent": {**NNUM, "description": "up / (up + down) over measured time"},
    "availability_min_percent": {**NNUM, "description": "as if unmonitored time had been down"},
    "downtime_minutes": NUM,
    "maintenance_minutes": NUM,
    "unknown_minutes": {**NUM, "description": "not monitored (daemon not running)"},
    "elapsed_minutes": NUM,
    "agreed_minutes": {**NUM, "description": "the whole period minus maintenance"},
    "target_percent": NUM,
    "allowed_downtime_minutes": NUM,
    "error_budget_left_minutes": NUM,
    "met": {"type": "boolean", "nullable": True},
}
AVAIL_REQUIRED = [
    "availability_percent",
    "availability_min_percent",
    "downtime_minutes",
    "maintenance_minutes",
    "unknown_minutes",
    "elapsed_minutes",
    "agreed_minutes",
]
AVAILABILITY = _obj(AVAIL_PROPS, required=AVAIL_REQUIRED)

TARGET = _obj(
    {
        "status": {"type": "string", "enum": ["met", "breached", "pending", "none"]},
        "minutes": NNUM,
        "target_minutes": NNUM,
        "clock": {**STR, "description": "24x7 or a business calendar's name"},
    }
)

CHECK_PROPS = {
    "name": STR,
    "description": STR,
    "tags": {"type": "array", "items": STR},
    "enabled": BOOL,
    "internal": {**BOOL, "description": "watchd's own check (e.g. a failing ticket channel)"},
    "interval_s": NNUM,
    "state": {**NSTATE, "description": "null until the check has run"},
    "state_type": {"type": "string", "enum": ["SOFT", "HARD", None], "nullable": True},
    "attempt": NINT,
    "hard_state": NSTATE,
    "flapping": BOOL,
    "last_check": TIME,
    "last_change": TIME,
    "last_hard_change": TIME,
    "summary": NSTR,
    "duration_s": NNUM,
    "incident": {**NINT, "description": "id of the open incident"},
    "silenced": BOOL,
    "in_maintenance": BOOL,
}

PERFDATUM = _obj(
    {
        "label": STR,
        "value": NNUM,
        "uom": STR,
        "warn": NSTR,
        "crit": NSTR,
        "min": NNUM,
        "max": NNUM,
    }
)

RESULT = _obj(
    {
        "state": STATE,
        "exit_code": NINT,
        "signal": NINT,
        "summary": STR,
        "long_output": STR,
        "perfdata": {"type": "array", "items": PERFDATUM},
        "duration_s": NUM,
        "reason": NSTR,
        "started_at": TIME,
    }
)

CHANGE = _obj(
    {
        "at": TIME,
        "kind": STR,
        "previous": STATE,
        "state": STATE,
        "state_type": {"type": "string", "enum": ["SOFT", "HARD"]},
        "attempt": INT,
        "summary": STR,
    }
)

INCIDENT_PROPS = {
    "id": INT,
    "key": {**STR, "description": "idempotency key used by every ticket backend"},
    "host": STR,
    "check": STR,
    "status": {"type": "string", "enum": ["open", "resolved"]},
    "priority": {"type": "string", "example": "P2"},
    "impact": STR,
    "urgency": STR,
    "state": STATE,
    "summary": STR,
    "opened_at": TIME,
    "updated_at": TIME,
    "respond_by": TIME,
    "resolve_by": TIME,
    "resolved_at": TIME,
    "acked_at": TIME,
    "acked_by": NSTR,
    "flapping": BOOL,
    "reopened": INT,
    "suppressed_by": NSTR,
    "response_breached_at": TIME,
    "resolution_breached_at": TIME,
    "escalation_level": INT,
    "last_notified_at": TIME,
}

EVENT = _obj({"incident_id": INT, "at": TIME, "action": STR, "priority": STR, "state": STATE, "text": STR})
DELIVERY = _obj(
    {
        "row": INT,
        "channel": STR,
        "kind": STR,
        "status": {"type": "string", "enum": ["pending", "done", "failed"]},
        "attempts": INT,
        "error": NSTR,
        "ticket": NSTR,
        "created_at": TIME,
        "done_at": TIME,
    }
)

DOWNTIME = _obj(
    {
        "id": INT,
        "scope": {"type": "string", "enum": ["host", "check", "tag"]},
        "target": STR,
        "starts_at": TIME,
        "ends_at": TIME,
        "comment": STR,
        "created_by": STR,
        "announce": BOOL,
        "created_at": TIME,
        "active": BOOL,
    }
)
SILENCE = _obj(
    {
        "id": INT,
        "check": STR,
        "starts_at": TIME,
        "ends_at": TIME,
        "created_by": STR,
        "comment": STR,
        "created_at": TIME,
        "active": BOOL,
    }
)

SERVICE_PROPS = {
    "name": STR,
    "title": STR,
    "description": STR,
    "target_percent": NUM,
    "state": {"type": "string", "enum": ["operational", "degraded", "outage", "maintenance", "no_data"]},
    "checks": {
        "type": "array",
        "items": _obj({"name": STR, "title": STR, "state": NSTATE, "in_maintenance": BOOL}),
    },
    "availability": _obj({k: _ref("Availability") for k in ("24h", "7d", "30d", "90d")}),
    "incidents": {
        "type": "array",
        "items": _obj({"id": INT, "check": STR, "priority": STR, "opened_at": TIME, "acknowledged": BOOL}),
    },
    "maintenance": {
        "type": "array",
        "items": _obj({"starts_at": TIME, "ends_at": TIME, "comment": STR, "active": BOOL}),
    },
}
DAY = _obj(
    {
        **AVAIL_PROPS,
        "date": {"type": "string", "format": "date"},
        "level": {"type": "string", "enum": ["ok", "minor", "major", "maintenance", "nodata"]},
    },
    required=[*AVAIL_REQUIRED, "date", "level"],
)

REPORT_INCIDENT = _obj(
    {
        "id": INT,
        "check": STR,
        "priority": STR,
        "status": STR,
        "summary": STR,
        "opened_at": TIME,
        "acked_at": TIME,
        "resolved_at": TIME,
        "response": TARGET,
        "resolution": TARGET,
    }
)
REPORT = _obj(
    {
        "period": _obj({"label": STR, "start": TIME, "end": TIME, "timezone": STR, "complete": BOOL}),
        "generated_at": TIME,
        "down_states": {"type": "array", "items": STATE},
        "services": {
            "type": "array",
            "items": _obj(
                {
                    **AVAIL_PROPS,
                    "name": STR,
                    "title": STR,
                    "checks": {"type": "array", "items": STR},
                    "outages": {"type": "array", "items": _obj({"start": TIME, "end": TIME, "minutes": NUM})},
                    "check_availability": {"type": "object", "additionalProperties": _ref("Availability")},
                    "incidents": {"type": "array", "items": REPORT_INCIDENT},
                },
                required=[
                    *AVAIL_REQUIRED,
                    "name",
                    "title",
                    "checks",
                    "outages",
                    "check_availability",
                    "incidents",
                    "target_percent",
                    "allowed_downtime_minutes",
                    "error_budget_left_minutes",
                    "met",
                ],
            ),
        },
    }
)


HEALTH = _obj(
    {
        "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
        "version": STR,
        "host": STR,
        "checks": _obj(
            {
                "store": _obj({"ok": BOOL, "writable": BOOL}),
                "scheduler": _obj({"ok": BOOL, "active": BOOL, "running": INT, "started": INT}),
                "outbox": _obj(
                    {
                        "ok": BOOL,
                        "backlog": {"type": "object", "additionalProperties": INT},
                        "failing_channels": {"type": "array", "items": STR},
                    }
                ),
                "mqtt": _obj(
                    {
                        "ok": BOOL,
                        "status": {"type": "string", "enum": ["disabled", "connected", "disconnected"]},
                    }
                ),
            }
        ),
    }
)

ERROR = _obj(
    {
        "error": STR,
        "problems": {"type": "array", "items": STR},
        "errors": {"type": "array", "items": STR},
    },
    required=["error"],
)

ACTOR = _obj(
    {"by": {**STR, "default": "api"}, "comment": {**STR, "default": ""}},
    required=[],
)
TIME_IN = {
    "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
    "description": "ISO 8601 (UTC when no zone is given) or epoch seconds",
}
SPAN = {
    "starts_at": {**TIME_IN, "description": "default: now"},
    "ends_at": TIME_IN,
    "duration": {
        "oneOf": [{"type": "string", "example": "2h"}, {"type": "number"}],
        "description": "instead of ends_at: seconds or 30m, 2h, 1d",
    },
}
SILENCE_IN = _obj({"check": STR, **SPAN, "by": STR, "comment": STR}, required=["check"])
DOWNTIME_IN = _obj(
    {
        "scope": {"type": "string", "enum": ["host", "check", "tag"], "default": "host"},
        "target": {**STR, "description": "check name or tag; for host the host name (default)"},
        **SPAN,
        "by": STR,
        "comment": STR,
        "announce": {**BOOL, "default": False, "description": "show on the status page, tell customers"},
    },
    required=[],
)


def _path_param(name: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": kind},
        "description": description,
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


CHECK_NAME = _path_param("name", "string", "check name")
INCIDENT_ID = _path_param("id", "integer", "incident id")


def document() -> dict[str, Any]:
    ok = "OK"
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "watchd API",
            "version": __version__,
            "description": "Health, checks, incidents, maintenance, services and SLA of one watchd "
            "daemon. Reads need no token; writes need `Authorization: Bearer <token>` "
            "(api.token_file or api.token_env). Times are UTC ISO 8601.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": ERROR,
                "Availability": AVAILABILITY,
                "Check": _obj(CHECK_PROPS),
                "CheckDetail": _obj(
                    {
                        **CHECK_PROPS,
                        "last_result": {**RESULT, "nullable": True},
                        "history": {"type": "array", "items": CHANGE},
                    }
                ),
                "Incident": _obj(INCIDENT_PROPS),
                "IncidentDetail": _obj(
                    {
                        **INCIDENT_PROPS,
                        "events": {"type": "array", "items": EVENT},
                        "deliveries": {"type": "array", "items": DELIVERY},
                        "sla": _obj({"response": TARGET, "resolution": TARGET}),
                    }
                ),
                "Service": _obj(SERVICE_PROPS),
                "ServiceDetail": _obj({**SERVICE_PROPS, "days": {"type": "array", "items": DAY}}),
                "SlaReport": REPORT,
                "Health": HEALTH,
            },
        },
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness and readiness with details",
                    "tags": ["health"],
                    "responses": {
                        "200": _json(_ref("Health"), "ready (status ok or degraded)"),
                        "503": _json(_ref("Health"), "not ready: store not writable or scheduler stopped"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text format 0.0.4)",
                    "tags": ["health"],
                    "responses": {"200": {"description": ok, "content": {"text/plain": {"schema": STR}}}},
                }
            },
            "/status": {
                "get": {
                    "summary": "Public status page (HTML)",
                    "tags": ["status"],
                    "responses": {
                        "200": {"description": ok, "content": {"text/html": {"schema": STR}}},
                        "404": _err("the status page is disabled"),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "tags": ["meta"],
                    "responses": {"200": _json({"type": "object"}, ok)},
                }
            },
            "/api/v1/checks": {
                "get": {
                    "summary": "Every check with its current state",
                    "tags": ["checks"],
                    "parameters": [
                        _query("state", STR, "comma-separated states, e.g. CRITICAL,UNKNOWN (or PENDING)"),
                        _query("problems", {"type": "string", "enum": ["true", "false"]}, "only non-OK"),
                        _query("tag", STR, "only checks with this tag"),
                    ],
                    "responses": {
                        "200": _json(
                            _obj({"checks": {"type": "array", "items": _ref("Check")}, "count": INT}), ok
                        ),
                        "400": _err("bad filter"),
                    },
                }
            },
            "/api/v1/checks/{name}": {
                "get": {
                    "summary": "One check: state, last result with perfdata, state history",
                    "tags": ["checks"],
                    "parameters": [
                        CHECK_NAME,
                        _query(
                            "history",
                            {"type": "integer", "minimum": 0, "maximum": 10000, "default": 100},
                            "state changes to include, newest first",
                        ),
                    ],
                    "responses": {
                        "200": _json(_ref("CheckDetail"), ok),
                        "400": _err("bad parameter"),
                        "404": _err("no such check"),
                    },
                }
            },
            "/api/v1/checks/{name}/run": {
                "post": {
                    "summary": "Run a check now",
                    "tags": ["checks"],
                    "security": SECURED,
                    "parameters": [CHECK_NAME],
                    "responses": {
                        "202": _json(_obj({"check": STR, "queued": BOOL}), "queued"),
                        **WRITE_ERRORS,
                        "404": _err("no such check"),
                        "409": _err("the check is not scheduled"),
                    },
                }
            },
            "/api/v1/incidents": {
                "get": {
                    "summary": "Incidents, newest first",
                    "tags": ["incidents"],
                    "parameters": [
                        _query(
                            "status", {"type": "string", "enum": ["open", "resolved", "all"]}, "default all"
                        ),
                        _query("priority", STR, "comma-separated, e.g. P1,P2"),
                        _query("state", STR, "comma-separated check states"),
                        _query("check", STR, "one check's incidents"),
                        _query(
                            "limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, ""
                        ),
                    ],
                    "responses": {
                        "200": _json(
                            _obj({"incidents": {"type": "array", "items": _ref("Incident")}, "count": INT}),
                            ok,
                        ),
                        "400": _err("bad filter"),
                    },
                }
            },
            "/api/v1/incidents/{id}": {
                "get": {
                    "summary": "One incident with its timeline, deliveries and SLA targets",
                    "tags": ["incidents"],
                    "parameters": [INCIDENT_ID],
                    "responses": {
                        "200": _json(_ref("IncidentDetail"), ok),
                        "400": _err("bad id"),
                        "404": _err("no such incident"),
                    },
                }
            },
            "/api/v1/incidents/{id}/ack": _incident_write("Acknowledge an incident"),
            "/api/v1/incidents/{id}/resolve": _incident_write("Resolve an incident by hand"),
            "/api/v1/maintenance": {
                "get": {
                    "summary": "Downtimes and silences active now or later; upcoming recurring windows",
                    "tags": ["maintenance"],
                    "responses": {
                        "200": _json(
                            _obj(
                                {
                                    "downtimes": {"type": "array", "items": DOWNTIME},
                                    "silences": {"type": "array", "items": SILENCE},
                                    "windows": {"type": "array", "items": {"type": "object"}},
                                }
                            ),
                            ok,
                        )
                    },
                }
            },
            "/api/v1/silences": {
                "post": {
                    "summary": "Silence a check (no tickets or notifications; results still recorded)",
                    "tags": ["maintenance"],
                    "security": SECURED,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": SILENCE_IN}},
                    },
                    "responses": {"201": _json(_obj({}, required=[], extra=True), "created"), **WRITE_ERRORS},
                }
            },
            "/api/v1/silences/{id}": {
                "delete": {
                    "summary": "Remove a silence",
                    "tags": ["maintenance"],
                    "security": SECURED,
                    "parameters": [_path_param("id", "integer", "silence id")],
                    "responses": {
                        "200": _json(_obj({"removed": INT}), "removed"),
                        **WRITE_ERRORS,
                        "404": _err("no active silence with this id"),
                    },
                }
            },
            "/api/v1/downtimes": {
                "post": {
                    "summary": "Add a maintenance window (excluded from availability)",
                    "tags": ["maintenance"],
                    "security": SECURED,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": DOWNTIME_IN}},
                    },
                    "responses": {"201": _json(_obj({}, required=[], extra=True), "created"), **WRITE_ERRORS},
                }
            },
            "/api/v1/downtimes/{id}": {
                "delete": {
                    "summary": "Cancel a downtime",
                    "tags": ["maintenance"],
                    "security": SECURED,
                    "parameters": [_path_param("id", "integer", "downtime id")],
                    "responses": {
                        "200": _json(_obj({"removed": INT}), "removed"),
                        **WRITE_ERRORS,
                        "404": _err("no active downtime with this id"),
                    },
                }
            },
            "/api/v1/services": {
                "get": {
                    "summary": "Services: state and availability over 24 h, 7 d, 30 d and 90 d",
                    "tags": ["services"],
                    "responses": {
                        "200": _json(_obj({"services": {"type": "array", "items": _ref("Service")}}), ok)
                    },
                }
            },
            "/api/v1/services/{name}": {
                "get": {
                    "summary": "One service with its last 90 days, one entry per local day",
                    "tags": ["services"],
                    "parameters": [_path_param("name", "string", "service name")],
                    "responses": {"200": _json(_ref("ServiceDetail"), ok), "404": _err("no such service")},
                }
            },
            "/api/v1/sla/report": {
                "get": {
                    "summary": "SLA report for a month (as `watchd sla report --format json`)",
                    "tags": ["services"],
                    "parameters": [
                        _query("month", {"type": "string", "example": "2026-11"}, "default: this month"),
                        _query("service", STR, "one service (default all)"),
                    ],
                    "responses": {
                        "200": _json(_ref("SlaReport"), ok),
                        "400": _err("bad month"),
                        "404": _err("no such service"),
                    },
                }
            },
            "/api/v1/reload": {
                "post": {
                    "summary": "Reload the configuration file",
                    "tags": ["admin"],
                    "security": SECURED,
                    "responses": {
                        "200": _json(_obj({"reloaded": BOOL, "checks": INT}), "reloaded"),
                        **WRITE_ERRORS,
                        "422": _err("configuration rejected; `errors` lists why; the old one keeps running"),
                    },
                }
            },
        },
    }


def _incident_write(summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "tags": ["incidents"],
            "security": SECURED,
            "parameters": [INCIDENT_ID],
            "requestBody": {"required": False, "content": {"application/json": {"schema": ACTOR}}},
            "responses": {
                "200": _json(_ref("Incident"), "done; the incident as it is now"),
                **WRITE_ERRORS,
                "404": _err("no such incident"),
                "409": _err("not possible in the incident's state (resolved, already acknowledged)"),
            },
        }
    }


DOCUMENT = document()


@routes.get("/api/v1/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return json_response(DOCUMENT)
