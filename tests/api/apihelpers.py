"""Helpers for the API tests: a host with switchable plugins, a JSON client, the test ApiConfig."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import aiohttp

from watchd import config
from watchd.api.server import ApiServer
from watchd.config.api import ApiConfig, ServiceConfig
from watchd.daemon import Daemon

TOKEN = "s3cret-token"


def json_schema(document: dict[str, Any], node: Any) -> Any:
    """An OpenAPI 3.0 schema of `document` as JSON Schema: $refs inlined, `nullable` as a null type."""
    if isinstance(node, list):
        return [json_schema(document, v) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return json_schema(document, document["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
    out = {k: json_schema(document, v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def response_schema(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The JSON Schema of the documented answer `status` of `method path` (AssertionError if none)."""
    op = document["paths"][path][method]
    response = op["responses"].get(str(status))
    assert response is not None, f"{method.upper()} {path} answered {status}, which is not documented"
    return json_schema(document, copy.deepcopy(response["content"]["application/json"]["schema"]))  # type: ignore[no-any-return]


class Host:
    """A temp config dir with plugins whose exit codes the test sets through files."""

    def __init__(self, root: Path, checks: tuple[str, ...] = ("web", "db")) -> None:
        self.root = root
        self.checks = checks
        self.plugins: dict[str, Path] = {}
        for name in checks:
            self.set(name, 0)
            plugin = root / f"check_{name}"
            code = root / f"{name}.code"
            plugin.write_text(
                f'#!/bin/sh\nc=$(cat {code})\necho "{name.upper()} code $c'
                f' | time=250ms;1;2;0 size=2KB;;;0 load=75%;80;90 hits=5c"\nexit $c\n'
            )
            plugin.chmod(0o755)
            self.plugins[name] = plugin
        self.cfg = root / "watchd.yaml"
        self.token_file = root / "api-token"
        self.token_file.write_text(TOKEN + "\n")
        self.write()

    def set(self, check: str, code: int) -> None:
        (self.root / f"{check}.code").write_text(str(code))

    def write(self, extra: str = "") -> None:
        checks = "".join(
            f"  {n}: {{command: [{self.plugins[n]}], tags: [{n}tag], description: {n.title()} check}}\n"
            for n in self.checks
        )
        self.cfg.write_text(
            f"host: web01\ndata_dir: {self.root / 'data'}\napi: {{enabled: false}}\n"
            f"log: {{level: warning, format: json}}\n"
            "defaults: {interval: 1h, retry_interval: 1h, max_attempts: 1}\n"
            f"checks:\n{checks}{extra}"
        )

    def daemon(self) -> Daemon:
        return Daemon(config.load(str(self.cfg)), str(self.cfg))


class Client:
    """JSON over real HTTP to the API under test."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = TOKEN, raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(method, self.base + path, data=data, headers=headers) as resp:
            text = await resp.text()
            ctype = resp.headers.get("Content-Type", "")
            return resp.status, json.loads(text) if ctype.startswith("application/json") else text

    async def get(self, path: str) -> Any:
        status, data = await self.call("GET", path, token=None)
        assert status == 200, (path, status, data)
        return data


class Env:
    def __init__(self, host: Host, daemon: Daemon, api: ApiServer, client: Client) -> None:
        self.host, self.daemon, self.api, self.client = host, daemon, api, client


def api_config(host: Host, **kw: Any) -> ApiConfig:
    services = {
        "shop": ServiceConfig("shop", "Web shop", ("web", "db"), 99.9, "The customer's shop"),
        "database": ServiceConfig("database", "Database", ("db",), 99.5),
    }
    defaults: dict[str, Any] = {
        "port": 0,
        "token_file": str(host.token_file),
        "services": services,
        "timezone": "UTC",
    }
    return ApiConfig(**(defaults | kw))


DAY = 86400.0


def seed_history(d: Daemon, now: float) -> None:
    """100 days of history for web and db, events at noon UTC: a 10-minute web outage 5 days ago
    (below 99.9 %), 3 hours of db 20 days ago, an UNKNOWN inside announced maintenance 40 days ago,
    a 12-hour daemon gap 60 days ago, and maintenance announced for the day after tomorrow."""
    db = d.store.db
    noon = (now // DAY) * DAY + 12 * 3600  # today's noon UTC; only used for past and future days

    def day(k: float) -> float:
        return noon - k * DAY

    runs = [(day(100), day(60)), (day(59.5), now - 60.0)]
    for a, b in runs:
        db.execute("INSERT INTO daemon_runs (started_at, last_seen, stopped_at) VALUES (?,?,?)", (a, b, b))
    log = [
        ("web", day(5), 2),
        ("web", day(5) + 600, 0),
        ("db", day(20), 2),
        ("db", day(20) + 3 * 3600, 0),
        ("db", day(40), 3),
        ("db", day(40) + 7200, 0),
    ]
    for check, at, state in log:
        db.execute(
            "INSERT INTO state_log (check_name, at, kind, previous, state, state_type, attempt, summary)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (check, at, "hard_problem" if state else "hard_recovery", 0, state, "HARD", 1, "s"),
        )
    downtimes = [
        ("host", "web01", day(40) - 600, day(40) + 7800, "database upgrade", 1),
        ("host", "web01", day(-2), day(-2) + 7200, "Kernel update, short interruptions", 1),
        ("check", "db", day(-3), day(-3) + 3600, "internal, not announced", 0),
    ]
    for scope, target, a, b, comment, announce in downtimes:
        db.execute(
            "INSERT INTO downtimes (scope, target, starts_at, ends_at, comment, created_by, announce,"
            " created_at) VALUES (?,?,?,?,?,?,?,?)",
            (scope, target, a, b, comment, "ops", announce, now - 50 * DAY),
        )
