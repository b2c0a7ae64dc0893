"""The HTTP API over real HTTP against an in-process daemon: reads, writes, auth, errors."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import pytest
from apihelpers import TOKEN, Env, Host, api_config
from structlog.testing import capture_logs

from watchd.api import health
from watchd.api.server import ApiServer
from watchd.config.api import ApiConfig


async def test_port_zero_binds_a_free_port(env: Env) -> None:
    """ApiConfig(port=0) binds some free port and reports it as api.port."""
    assert env.api.port > 0
    assert env.client.base.endswith(str(env.api.port))


async def test_healthz_reports_readiness_and_details(env: Env) -> None:
    """A running daemon is ready; the details name store, scheduler, outbox and MQTT."""
    status, data = await env.client.call("GET", "/healthz", token=None)
    assert status == 200
    assert data["status"] == "ok"
    assert data["checks"]["store"] == {"ok": True, "writable": True}
    assert data["checks"]["scheduler"]["active"] is True
    assert data["checks"]["outbox"]["backlog"] == {}
    assert data["checks"]["mqtt"] == {"ok": True, "status": "disabled"}


async def test_healthz_is_503_when_the_scheduler_stopped(env: Env) -> None:
    """Readiness fails (503) once the scheduler is no longer running."""
    await env.daemon.scheduler.stop(0.1)
    status, data = await env.client.call("GET", "/healthz", token=None)
    assert status == 503
    assert data["status"] == "unavailable"
    assert data["checks"]["scheduler"]["ok"] is False


async def test_healthz_mqtt_connected_and_disconnected(env: Env) -> None:
    """With a bus, MQTT shows as connected, or as disconnected (degraded but still ready)."""

    class Bus:
        connected = True

    env.daemon.bus = Bus()  # type: ignore[assignment]
    try:
        assert (await env.client.get("/healthz"))["checks"]["mqtt"]["status"] == "connected"
        Bus.connected = False
        status, data = await env.client.call("GET", "/healthz", token=None)
    finally:
        env.daemon.bus = None  # the stand-in cannot be stopped like a real bus
    assert (status, data["status"], data["checks"]["mqtt"]["status"]) == (200, "degraded", "disconnected")


async def test_checks_list_and_filters(env: Env) -> None:
    """Every configured check is listed with state, incident and tags; filters narrow the list."""
    data = await env.client.get("/api/v1/checks")
    assert [c["name"] for c in data["checks"]] == ["db", "web"]
    assert all(c["state"] is None for c in data["checks"])  # not run yet
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    await env.daemon.run_check("db")
    data = await env.client.get("/api/v1/checks")
    web = next(c for c in data["checks"] if c["name"] == "web")
    assert (web["state"], web["state_type"], web["summary"]) == ("CRITICAL", "HARD", "WEB code 2")
    assert web["incident"] == 1
    assert web["tags"] == ["webtag"]
    assert web["description"] == "Web check"
    assert web["last_check"].endswith("Z")
    assert [c["name"] for c in (await env.client.get("/api/v1/checks?state=critical"))["checks"]] == ["web"]
    assert [c["name"] for c in (await env.client.get("/api/v1/checks?problems=true"))["checks"]] == ["web"]
    assert [c["name"] for c in (await env.client.get("/api/v1/checks?tag=dbtag"))["checks"]] == ["db"]
    status, err = await env.client.call("GET", "/api/v1/checks?state=BROKEN", token=None)
    assert status == 400
    assert "state" in err["error"]


async def test_check_detail_has_last_result_perfdata_and_history(env: Env) -> None:
    """One check: its last full result with perfdata, and its state changes newest first."""
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    env.host.set("web", 0)
    await env.daemon.run_check("web")
    data = await env.client.get("/api/v1/checks/web")
    assert data["state"] == "OK"
    result = data["last_result"]
    assert result["summary"] == "WEB code 0"
    assert [(p["label"], p["value"], p["uom"]) for p in result["perfdata"]] == [
        ("time", 250.0, "ms"), ("size", 2.0, "KB"), ("load", 75.0, "%"), ("hits", 5.0, "c"),
    ]  # fmt: skip
    assert [(h["kind"], h["state"]) for h in data["history"]] == [
        ("hard_recovery", "OK"),
        ("hard_problem", "CRITICAL"),
    ]
    assert len((await env.client.get("/api/v1/checks/web?history=1"))["history"]) == 1
    status, err = await env.client.call("GET", "/api/v1/checks/nope", token=None)
    assert (status, err["error"]) == (404, "no check 'nope'")
    status, _ = await env.client.call("GET", "/api/v1/checks/web?history=-1", token=None)
    assert status == 400


async def test_incidents_list_filters_and_detail(env: Env) -> None:
    """Incidents filter by status and priority; one incident carries events, deliveries and SLA."""
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    await env.daemon.parts.deliverer.run_once()
    data = await env.client.get("/api/v1/incidents")
    assert [(i["id"], i["check"], i["status"], i["priority"], i["state"]) for i in data["incidents"]] == [
        (1, "web", "open", "P3", "CRITICAL")
    ]
    assert (await env.client.get("/api/v1/incidents?status=resolved"))["count"] == 0
    assert (await env.client.get("/api/v1/incidents?priority=P3,P1"))["count"] == 1
    assert (await env.client.get("/api/v1/incidents?priority=P1"))["count"] == 0
    assert (await env.client.get("/api/v1/incidents?state=WARNING"))["count"] == 0
    assert (await env.client.get("/api/v1/incidents?check=web"))["count"] == 1
    status, _ = await env.client.call("GET", "/api/v1/incidents?priority=P9", token=None)
    assert status == 400
    one = await env.client.get("/api/v1/incidents/1")
    assert one["key"] == "watchd-web01-web-1"
    assert [e["action"] for e in one["events"]] == ["open"]
    assert [(d["channel"], d["kind"], d["status"]) for d in one["deliveries"]] == [
        ("ticket:builtin", "open", "done")
    ]
    assert one["deliveries"][0]["ticket"]
    assert one["sla"]["response"]["status"] == "pending"
    assert one["sla"]["response"]["target_minutes"] == 240.0
    assert (await env.client.call("GET", "/api/v1/incidents/99", token=None))[0] == 404
    assert (await env.client.call("GET", "/api/v1/incidents/abc", token=None))[0] == 400


# -- writes -----------------------------------------------------------------------------------------


async def test_writes_need_the_token(env: Env) -> None:
    """Without a token or with a wrong one: 401, and nothing changes."""
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    for token in (None, "wrong", ""):
        status, data = await env.client.call("POST", "/api/v1/incidents/1/ack", {}, token=token)
        assert status == 401, token
        assert "token" in data["error"].lower() or "Bearer" in data["error"]
    status, _ = await env.client.call(
        "POST", "/api/v1/reload", None, token=None, raw=None
    )  # no header at all
    assert status == 401
    assert (await env.client.get("/api/v1/incidents/1"))["acked_at"] is None


async def test_writes_are_403_without_a_configured_token(env: Env) -> None:
    """No token configured: writes are disabled (403) whatever the request says."""
    env.api.reconfigure(ApiConfig(port=0))
    status, data = await env.client.call("POST", "/api/v1/reload")
    assert status == 403
    assert "no api token configured" in data["error"]


async def test_unreadable_token_file_is_503_and_logged(env: Env) -> None:
    """A configured token file that is gone: 503 with where it was looked for, and a log line."""
    os.unlink(env.host.token_file)
    with capture_logs() as logs:
        status, data = await env.client.call("POST", "/api/v1/reload")
    assert status == 503
    assert str(env.host.token_file) in data["error"]
    assert TOKEN not in data["error"]
    assert any(e["event"] == "api token unavailable; writes refused" for e in logs)


async def test_token_rotation_needs_no_restart(env: Env) -> None:
    """The token file is read at each write: a rotated token works at once, the old one stops."""
    env.host.token_file.write_text("new-token\n")
    assert (await env.client.call("POST", "/api/v1/checks/web/run", token=TOKEN))[0] == 401
    assert (await env.client.call("POST", "/api/v1/checks/web/run", token="new-token"))[0] == 202


async def test_token_from_environment(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """token_env names a variable holding the token."""
    monkeypatch.setenv("WATCHD_TEST_TOKEN", "from-env")
    env.api.reconfigure(api_config(env.host, token_file=None, token_env="WATCHD_TEST_TOKEN"))
    assert (await env.client.call("POST", "/api/v1/checks/web/run", token="from-env"))[0] == 202
    assert (await env.client.call("POST", "/api/v1/checks/web/run", token=TOKEN))[0] == 401


async def test_ack_and_resolve(env: Env) -> None:
    """Ack records who and queues a ticket update; a second ack is a conflict; resolve closes it."""
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    body = {"by": "alice", "comment": "on it"}
    status, inc = await env.client.call("POST", "/api/v1/incidents/1/ack", body)
    assert status == 200
    assert (inc["acked_by"], inc["status"]) == ("alice", "open")
    assert inc["acked_at"] is not None
    status, data = await env.client.call("POST", "/api/v1/incidents/1/ack", {"by": "bob"})
    assert status == 409
    assert "already acknowledged by alice" in data["error"]
    assert (await env.client.call("POST", "/api/v1/incidents/42/ack", {}))[0] == 404
    status, inc = await env.client.call("POST", "/api/v1/incidents/1/resolve")  # empty body is fine
    assert (status, inc["status"]) == (200, "resolved")
    assert (await env.client.call("POST", "/api/v1/incidents/1/resolve"))[0] == 409
    events = (await env.client.get("/api/v1/incidents/1"))["events"]
    assert [e["action"] for e in events] == ["open", "ack", "resolve"]
    assert events[1]["text"] == "acknowledged by alice: on it"


async def test_bad_bodies_are_400_with_what_was_wrong(env: Env) -> None:
    """Not JSON, not an object, unknown fields, wrong types: 400 naming each problem."""
    status, data = await env.client.call("POST", "/api/v1/silences", raw=b"{not json")
    assert status == 400
    assert data["error"].startswith("request body is not valid JSON")
    status, data = await env.client.call("POST", "/api/v1/silences", [1, 2])
    assert (status, data["error"]) == (400, "request body must be a JSON object")
    status, data = await env.client.call(
        "POST", "/api/v1/silences", {"check": 5, "ends_at": "tomorrow", "colour": "red"}
    )
    assert status == 400
    assert sorted(data["problems"]) == [
        "check: expected a string",
        "colour: unknown field",
        "ends_at: expected a time like 2026-11-23T22:00:00Z, not 'tomorrow'",
    ]


async def test_silence_add_list_remove(env: Env) -> None:
    """A silence shows in /maintenance and on the check, and can be removed once."""
    status, data = await env.client.call(
        "POST", "/api/v1/silences", {"check": "web", "duration": "2h", "by": "alice", "comment": "deploy"}
    )
    assert status == 201
    sid = data["id"]
    maint = await env.client.get("/api/v1/maintenance")
    [s] = maint["silences"]
    assert (s["id"], s["check"], s["active"], s["created_by"], s["comment"]) == (
        sid, "web", True, "alice", "deploy",
    )  # fmt: skip
    web = next(c for c in (await env.client.get("/api/v1/checks"))["checks"] if c["name"] == "web")
    assert web["silenced"] is True
    assert (await env.client.call("DELETE", f"/api/v1/silences/{sid}"))[0] == 200
    assert (await env.client.call("DELETE", f"/api/v1/silences/{sid}"))[0] == 404
    assert (await env.client.get("/api/v1/maintenance"))["silences"] == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param({"duration": "1h"}, "check: is required", id="no-check"),
        pytest.param({"check": "nope", "duration": "1h"}, "check: unknown check 'nope'", id="unknown-check"),
        pytest.param({"check": "web"}, "ends_at: is required (or duration, like 2h)", id="no-end"),
        pytest.param(
            {"check": "web", "duration": "1h", "ends_at": "2030-01-01T00:00:00Z"},
            "ends_at: give ends_at or duration, not both",
            id="end-and-duration",
        ),
        pytest.param({"check": "web", "duration": "soon"}, "duration: expected a duration", id="duration"),
        pytest.param(
            {"check": "web", "starts_at": "2001-01-01T00:00:00", "ends_at": 978310800},
            "that silence would already be over",
            id="in-the-past",
        ),
    ],
)
async def test_silence_input_errors(env: Env, body: dict, problem: str) -> None:
    """Each invalid silence is refused with 400 and a message saying what was wrong."""
    status, data = await env.client.call("POST", "/api/v1/silences", body)
    assert status == 400
    assert problem in data["error"]


async def test_downtime_add_list_remove(env: Env) -> None:
    """Downtimes by host (default), check and tag; checks covered show as in maintenance."""
    start = time.time() + 3600
    status, dt_host = await env.client.call(
        "POST",
        "/api/v1/downtimes",
        {"starts_at": start, "ends_at": start + 3600, "comment": "kernel update", "announce": True},
    )
    assert status == 201
    assert (dt_host["scope"], dt_host["target"], dt_host["announce"]) == ("host", "web01", True)
    status, dt_check = await env.client.call(
        "POST", "/api/v1/downtimes", {"scope": "check", "target": "db", "duration": 600}
    )
    assert status == 201
    status, dt_tag = await env.client.call(
        "POST", "/api/v1/downtimes", {"scope": "tag", "target": "webtag", "duration": "10m"}
    )
    assert status == 201
    maint = await env.client.get("/api/v1/maintenance")
    assert [(d["id"], d["scope"], d["active"]) for d in maint["downtimes"]] == [
        (dt_check["id"], "check", True), (dt_tag["id"], "tag", True), (dt_host["id"], "host", False),
    ]  # fmt: skip
    checks = {c["name"]: c["in_maintenance"] for c in (await env.client.get("/api/v1/checks"))["checks"]}
    assert checks == {"db": True, "web": True}
    assert (await env.client.call("DELETE", f"/api/v1/downtimes/{dt_tag['id']}"))[0] == 200
    assert (await env.client.call("DELETE", f"/api/v1/downtimes/{dt_tag['id']}"))[0] == 404
    assert (await env.client.call("DELETE", "/api/v1/downtimes/x"))[0] == 400
    checks = {c["name"]: c["in_maintenance"] for c in (await env.client.get("/api/v1/checks"))["checks"]}
    assert checks == {"db": True, "web": False}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param({"scope": "planet", "duration": 60}, "scope: expected one of host, check", id="scope"),
        pytest.param({"scope": "check", "duration": 60}, "target: is required for scope check", id="target"),
        pytest.param({"scope": "check", "target": "x", "duration": 60}, "unknown check 'x'", id="check"),
        pytest.param({"scope": "tag", "target": "x", "duration": 60}, "no check has the tag 'x'", id="tag"),
        pytest.param({"duration": 60, "announce": "yes"}, "announce: expected true or false", id="announce"),
        pytest.param({"starts_at": 4e9, "ends_at": 3.9e9}, "must end after it starts", id="backwards"),
        pytest.param({"starts_at": 100, "duration": 60}, "starts_at: must be between 2000-01-01", id="1970"),
        pytest.param({"starts_at": "2030-01-01T00:00Z", "ends_at": "2032-01-01T00:00Z"}, "at most 366 days",
                     id="years"),
    ],
)
async def test_downtime_input_errors(env: Env, body: dict, problem: str) -> None:
    """Each invalid downtime is refused with 400 and a message saying what was wrong."""
    status, data = await env.client.call("POST", "/api/v1/downtimes", body)
    assert status == 400
    assert problem in data["error"]


async def test_run_check_now(env: Env) -> None:
    """POST .../run queues the check at once (202); its result goes through the pipeline."""
    before = env.daemon.results
    status, data = await env.client.call("POST", "/api/v1/checks/web/run")
    assert (status, data) == (202, {"check": "web", "queued": True})
    for _ in range(200):
        if env.daemon.results > before:
            break
        await asyncio.sleep(0.02)
    assert env.daemon.results > before
    assert (await env.client.call("POST", "/api/v1/checks/nope/run"))[0] == 404


async def test_reload_good_and_bad_config(env: Env) -> None:
    """A valid file reloads (200); an invalid one is refused (422) with errors; the old one stays."""
    assert (await env.client.get("/api/v1/checks"))["count"] == 2
    env.host.checks = ("web",)
    env.host.write()
    status, data = await env.client.call("POST", "/api/v1/reload")
    assert (status, data) == (200, {"reloaded": True, "checks": 1})
    assert [c["name"] for c in (await env.client.get("/api/v1/checks"))["checks"]] == ["web"]
    env.host.cfg.write_text(env.host.cfg.read_text() + "bogus_key: 1\n")
    status, data = await env.client.call("POST", "/api/v1/reload")
    assert status == 422
    assert any("bogus_key: unknown key" in e for e in data["errors"])
    assert list(env.daemon.config.checks) == ["web"]


# -- errors -----------------------------------------------------------------------------------------


async def test_unknown_path_and_method_are_json(env: Env) -> None:
    """Unknown paths are 404 JSON; a wrong method is 405 JSON with Allow."""
    status, data = await env.client.call("GET", "/api/v1/nothing", token=None)
    assert (status, data) == (404, {"error": "no such resource: /api/v1/nothing"})
    async with env.client.session.put(env.client.base + "/api/v1/checks") as resp:
        assert resp.status == 405
        assert "GET" in resp.headers["Allow"]
        assert (await resp.json())["error"] == "method PUT not allowed on /api/v1/checks"


async def test_a_crashing_handler_is_a_500_and_a_log_line(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception becomes a 500 JSON error and a log line; the daemon serves on."""

    def boom(daemon: object) -> str:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(health, "mqtt_status", boom)
    with capture_logs() as logs:
        status, data = await env.client.call("GET", "/healthz", token=None)
    assert status == 500
    assert data["error"] == "internal error (RuntimeError); the daemon's log has details"
    [line] = [e for e in logs if e["event"] == "api request failed"]
    assert (line["path"], line["log_level"]) == ("/healthz", "error")
    monkeypatch.undo()
    assert (await env.client.get("/healthz"))["status"] == "ok"


async def test_oversized_body_is_413(env: Env) -> None:
    """Bodies are capped (64 KiB): a bigger one is refused, as JSON."""
    big = b'{"comment": "' + b"x" * 70_000 + b'"}'
    status, data = await env.client.call("POST", "/api/v1/silences", raw=big)
    assert status == 413
    assert "error" in data


async def test_unix_socket(tmp_path: Path) -> None:
    """With unix_socket set (and no TCP), the API answers on the socket, mode 0660, removed at stop."""
    host = Host(tmp_path)
    d = host.daemon()
    await d.start()
    sock = str(tmp_path / "api.sock")
    api = ApiServer(d, ApiConfig(listen="", unix_socket=sock))
    await api.start()
    try:
        assert api.port == 0
        assert oct(os.stat(sock).st_mode & 0o777) == "0o660"
        async with (
            aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as session,
            session.get("http://localhost/healthz") as resp,
        ):
            assert resp.status == 200
            assert (await resp.json())["status"] == "ok"
    finally:
        await api.stop()
        await d.stop()
    assert not Path(sock).exists()  # noqa: ASYNC240  (a stat in a test)
