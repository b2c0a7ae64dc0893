"""The schemas of the OpenAPI document: one constant per payload shape, plus the small builders
the route modules use to describe their parameters and answers (see `app.operation`). Data only,
hence its length."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from watchd.core import timespec


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def err(description: str) -> dict[str, Any]:
    return json_body(ref("Error"), description)


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


def obj(props: dict[str, Any], required: list[str] | None = None, extra: bool = False) -> dict[str, Any]:
    o: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": extra}
    o["required"] = list(props) if required is None else required
    return o


WRITE_ERRORS = {
    "400": err("bad input; `problems` lists what was wrong"),
    "401": err("no or wrong bearer token"),
    "403": err("writes are disabled (no token configured)"),
    "413": err("request body larger than 64 KiB"),
    "503": err("the configured token cannot be read"),
}
STARTING = err("the daemon is starting (no check states yet)")
SECURED: list[dict[str, list[str]]] = [{"bearer": []}]

AVAIL_PROPS: dict[str, Any] = {
    "from": {**TIME, "description": "start of the window the figures cover"},
    "until": {**TIME, "description": "end of the part covered: now, or the window's end once over"},
    "measured_minutes": {**NUM, "description": "up + down: the time the availability is over"},
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
    "verdict": {
        "type": "string",
        "enum": ["met", "missed", "on_track", "at_risk", "no_data"],
        "description": "missed once the whole window's budget is spent or at its end below target",
    },
    "met": {"type": "boolean", "nullable": True, "description": "null until decided (see verdict)"},
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
AVAILABILITY = obj(AVAIL_PROPS, required=AVAIL_REQUIRED)

TARGET = obj(
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

PERFDATUM = obj(
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

RESULT = obj(
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

CHANGE = obj(
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

EVENT = obj({"incident_id": INT, "at": TIME, "action": STR, "priority": STR, "state": STATE, "text": STR})
DELIVERY = obj(
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

DOWNTIME = obj(
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
SILENCE = obj(
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
        "items": obj({"name": STR, "title": STR, "state": NSTATE, "in_maintenance": BOOL}),
    },
    "availability": obj({k: ref("Availability") for k in ("24h", "7d", "30d", "90d", "month")}),
    "incidents": {
        "type": "array",
        "items": obj({"id": INT, "check": STR, "priority": STR, "opened_at": TIME, "acknowledged": BOOL}),
    },
    "maintenance": {
        "type": "array",
        "items": obj({"starts_at": TIME, "ends_at": TIME, "comment": STR, "active": BOOL}),
    },
}
DAY = obj(
    {
        **AVAIL_PROPS,
        "date": {"type": "string", "format": "date"},
        "level": {"type": "string", "enum": ["ok", "minor", "major", "maintenance", "nodata"]},
    },
    required=[*AVAIL_REQUIRED, "date", "level"],
)

REPORT_INCIDENT = obj(
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
REPORT = obj(
    {
        "period": obj({"label": STR, "start": TIME, "end": TIME, "timezone": STR, "complete": BOOL}),
        "generated_at": TIME,
        "down_states": {"type": "array", "items": STATE},
        "services": {
            "type": "array",
            "items": obj(
                {
                    **AVAIL_PROPS,
                    "name": STR,
                    "title": STR,
                    "checks": {"type": "array", "items": STR},
                    "outages": {"type": "array", "items": obj({"start": TIME, "end": TIME, "minutes": NUM})},
                    "check_availability": {"type": "object", "additionalProperties": ref("Availability")},
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


HEALTH = obj(
    {
        "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
        "version": STR,
        "host": STR,
        "checks": obj(
            {
                "store": obj({"ok": BOOL, "writable": BOOL}),
                "scheduler": obj({"ok": BOOL, "active": BOOL, "running": INT, "started": INT}),
                "outbox": obj(
                    {
                        "ok": BOOL,
                        "backlog": {"type": "object", "additionalProperties": INT},
                        "failing_channels": {"type": "array", "items": STR},
                    }
                ),
                "mqtt": obj(
                    {
                        "ok": BOOL,
                        "status": {"type": "string", "enum": ["disabled", "connected", "disconnected"]},
                    }
                ),
            }
        ),
    }
)

ERROR = obj(
    {
        "error": STR,
        "problems": {"type": "array", "items": STR},
        "errors": {"type": "array", "items": STR},
    },
    required=["error"],
)

MAX_BY, MAX_COMMENT = 200, 2000  # app.actor enforces them
ACTOR = obj(
    {"by": {**NSTR, "maxLength": MAX_BY, "default": "api"},
     "comment": {**NSTR, "maxLength": MAX_COMMENT, "default": ""}},
    required=[],
)  # fmt: skip
# Times and spans in: timespec's own grammars and bounds, so the document says exactly what the
# server takes (null is the same as leaving a field out).
TIME_IN = {
    "oneOf": [
        {"type": "string", "pattern": timespec.ISO_PATTERN, "maxLength": 100, "example": "2026-11-23T22:00Z"},
        {"type": "number", "minimum": timespec.EARLIEST, "maximum": timespec.LATEST,
         "exclusiveMaximum": True},
    ],
    "nullable": True,
    "description": "ISO 8601 (UTC when no zone is given) or epoch seconds, 2000-01-01 to before 2100-01-01",
}  # fmt: skip
SPAN = {
    "starts_at": {**TIME_IN, "description": "default: now"},
    "ends_at": TIME_IN,
    "duration": {
        "oneOf": [
            {"type": "string", "pattern": timespec.SPAN_PATTERN, "maxLength": 100, "example": "2h"},
            {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": timespec.MAX_SPAN},
        ],
        "nullable": True,
        "description": "instead of ends_at: seconds or 30s, 5m, 2h, 1d (at most 366 days)",
    },
}
SILENCE_IN = obj({"check": STR, **SPAN, **ACTOR["properties"]}, required=["check"])
DOWNTIME_IN = obj(
    {
        "scope": {**NSTR, "enum": ["host", "check", "tag", None], "default": "host"},
        "target": {**NSTR, "description": "check name or tag; for host the host name (default)"},
        **SPAN,
        **ACTOR["properties"],
        "announce": {**BOOL, "default": False, "description": "show on the status page, tell customers"},
    },
    required=[],
)  # fmt: skip


def csv_pattern(words: Sequence[str]) -> str:
    """A comma-separated list of `words` (ASCII letters in any case, spaces around items, empty items
    ignored), as a pattern both JSON Schema and Python read alike; app.query_list enforces it."""
    alternatives = "|".join(
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in w) for w in words
    )
    item = f"(({alternatives}) *)?"
    return f"^ *{item}(, *{item})*$"


def csv_query(name: str, words: Sequence[str], description: str) -> dict[str, Any]:
    return query(name, {"type": "string", "pattern": csv_pattern(words)}, description)


def path_param(name: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": kind},
        "description": description,
    }


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


CHECK_NAME = path_param("name", "string", "check name")
INCIDENT_ID = path_param("id", "integer", "incident id")

COMPONENTS: dict[str, Any] = {
    "Error": ERROR,
    "Availability": AVAILABILITY,
    "Check": obj(CHECK_PROPS),
    "CheckDetail": obj(
        {
            **CHECK_PROPS,
            "last_result": {**RESULT, "nullable": True},
            "history": {"type": "array", "items": CHANGE},
        }
    ),
    "Incident": obj(INCIDENT_PROPS),
    "IncidentDetail": obj(
        {
            **INCIDENT_PROPS,
            "events": {"type": "array", "items": EVENT},
            "deliveries": {"type": "array", "items": DELIVERY},
            "sla": obj({"response": TARGET, "resolution": TARGET}),
            # the escalation policy paging for it (oncall.escalation), and when its next level fires
            "paging": obj({"policy": NSTR, "next_page_at": TIME}),
        }
    ),
    "Service": obj(SERVICE_PROPS),
    "ServiceDetail": obj({**SERVICE_PROPS, "days": {"type": "array", "items": DAY}}),
    "SlaReport": REPORT,
    "Health": HEALTH,
}
