"""The status page: service states, day bars, figures that match the API, maintenance, incidents."""

from __future__ import annotations

import re
import time

import pytest
from apihelpers import Env, api_config, seed_history

from watchd.api.serviceview import current_state
from watchd.api.statuspage import percent_text
from watchd.config.api import ServiceConfig
from watchd.core.clock import FakeClock
from watchd.core.model import CheckStatus, State, StateType
from watchd.core.sla import DEFAULT_DOWN_STATES, Availability
from watchd.reports.daybars import level


def avail(up: float, down: float, excluded: float = 0.0, unknown: float = 0.0) -> Availability:
    total = up + down + excluded + unknown
    return Availability(0.0, total, total - excluded, total, up, down, excluded, unknown)


@pytest.mark.parametrize(
    ("a", "target", "expected"),
    [
        pytest.param(avail(86400, 0), 99.9, "ok", id="clean-day"),
        pytest.param(avail(86400 - 60, 60), 99.9, "ok", id="one-minute-is-within-99.9"),
        pytest.param(avail(86400 - 600, 600), 99.9, "minor", id="ten-minutes-below-target"),
        pytest.param(avail(86400 - 3 * 3600, 3 * 3600), 99.9, "major", id="three-hours"),
        pytest.param(avail(86400 - 3 * 3600, 3 * 3600), 80.0, "ok", id="low-target"),
        pytest.param(avail(86400 - 3 * 3600, 3 * 3600), 88.0, "minor", id="within-one-point-of-a-low-target"),
        pytest.param(avail(0, 0, excluded=86400), 99.9, "maintenance", id="all-maintenance"),
        pytest.param(avail(0, 0, unknown=86400), 99.9, "nodata", id="not-monitored"),
    ],
)
def test_bar_levels(a: Availability, target: float, expected: str) -> None:
    """A day's colour: target met, below target but within a point (or 99 %), worse, or no data."""
    assert level(a, target) == expected


def st(name: str, state: State, kind: StateType = StateType.HARD) -> CheckStatus:
    return CheckStatus(name, state=state, state_type=kind)


@pytest.mark.parametrize(
    ("statuses", "maintenance", "expected"),
    [
        pytest.param({}, set(), "no_data", id="never-ran"),
        pytest.param({"a": st("a", State.OK), "b": st("b", State.OK)}, set(), "operational", id="all-ok"),
        pytest.param({"a": st("a", State.CRITICAL), "b": st("b", State.OK)}, set(), "outage", id="one-down"),
        pytest.param({"a": st("a", State.UNKNOWN)}, set(), "outage", id="unknown-is-down"),
        pytest.param({"a": st("a", State.WARNING)}, set(), "degraded", id="warning"),
        pytest.param({"a": st("a", State.CRITICAL, StateType.SOFT)}, set(), "degraded", id="soft-problem"),
        pytest.param(
            {"a": st("a", State.CRITICAL), "b": st("b", State.OK)}, {"a"}, "maintenance", id="maint"
        ),
        pytest.param(
            {"a": st("a", State.CRITICAL), "b": st("b", State.CRITICAL)}, {"a"}, "outage", id="other-down"
        ),
    ],
)
def test_current_state(statuses: dict, maintenance: set, expected: str) -> None:
    """outage > degraded > maintenance > operational; members in maintenance do not count."""
    assert current_state(["a", "b"], statuses, maintenance, DEFAULT_DOWN_STATES) == expected


def test_percent_text_floors() -> None:
    """99.999 % shows as 99.99 %, never as 100 %."""
    assert [percent_text(x) for x in (1.0, 0.99999, 0.9995, None)] == ["100.00 %", "99.99 %", "99.95 %", "–"]


async def page(env: Env) -> str:
    status, text = await env.client.call("GET", "/status", token=None)
    assert status == 200
    return text


async def test_page_figures_and_bars_match_the_api(env: Env) -> None:
    """Each service's figures and each day bar carry the same numbers as /api/v1/services/{name}."""
    seed_history(env.daemon, time.time())
    await env.daemon.run_check("web")
    await env.daemon.run_check("db")
    env.api.api.clock = FakeClock(time.time() + 1.0)  # page and API computed for the same instant
    html = await page(env)
    for name in ("shop", "database"):
        api = await env.client.get(f"/api/v1/services/{name}")
        card = html[html.index(f'id="service-{name}"') :]
        card = card[: card.index("</article>")]
        for key in ("24h", "7d", "30d", "90d"):
            ratio = api["availability"][key]["availability_percent"]
            shown = re.search(rf'data-window="{key}">([^<]*)<', card).group(1)
            assert shown == percent_text(None if ratio is None else ratio / 100), (name, key)
        bars = re.findall(r'data-date="([\d-]+)" data-availability="([\d.]*)"', card)
        assert len(bars) == 90
        assert [d for d, _ in bars] == [day["date"] for day in api["days"]]
        for (_, shown), day in zip(bars, api["days"], strict=True):
            if day["availability_percent"] is None:
                assert shown == ""
            else:
                assert float(shown) == pytest.approx(day["availability_percent"], abs=1e-4)
    shop = await env.client.get("/api/v1/services/shop")
    levels = [d["level"] for d in shop["days"]]
    assert levels[-6] == "minor"  # 10 minutes down 5 days ago
    assert levels[-21] == "major"  # 3 hours of db 20 days ago
    assert levels[-41] == "ok"  # the UNKNOWN was inside maintenance
    assert levels[-61] == "ok"  # half a day not monitored, the other half fine
    assert levels.count("ok") == 88
    assert shop["state"] == "operational"


async def test_states_incidents_and_maintenance_on_the_page(env: Env) -> None:
    """An outage, its incident (no plugin output), and only announced maintenance are shown."""
    now = time.time()
    seed_history(env.daemon, now)
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    await env.daemon.run_check("db")
    html = await page(env)
    assert 'data-overall="outage"' in html
    assert re.search(r'data-service="shop" data-state="outage"', html)
    assert re.search(r'data-service="database" data-state="operational"', html)
    assert "Current incidents" in html
    assert "Web shop: investigating" in html
    assert "WEB code 2" not in html  # plugin output stays internal
    assert "Scheduled maintenance" in html
    assert "Kernel update, short interruptions" in html
    assert "internal, not announced" not in html
    api = await env.client.get("/api/v1/services")
    assert [s["state"] for s in api["services"]] == ["outage", "operational"]
    assert [i["check"] for i in api["services"][0]["incidents"]] == ["web"]
    assert [m["comment"] for m in api["services"][0]["maintenance"]] == ["Kernel update, short interruptions"]


async def test_acknowledged_incident_reads_identified(env: Env) -> None:
    """After an ack the page says the problem is identified and being worked on."""
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    await env.client.call("POST", "/api/v1/incidents/1/ack", {})
    assert "Web shop: identified, being worked on" in await page(env)


async def test_page_is_self_contained_and_phone_ready(env: Env) -> None:
    """No scripts, no external assets; viewport meta and a narrow-screen layout."""
    html = await page(env)
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@media (max-width:600px)" in html


async def test_titles_are_escaped(env: Env) -> None:
    """Service titles from the config are escaped."""
    evil = ServiceConfig("x", "<script>alert(1)</script>", ("web",))
    env.api.reconfigure(api_config(env.host, services={"x": evil}, title="A & B"))
    html = await page(env)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<title>A &amp; B</title>" in html


async def test_every_check_is_a_service_without_services(env: Env) -> None:
    """Without configured services every check is shown under its description."""
    env.api.reconfigure(api_config(env.host, services={}))
    await env.daemon.run_check("web")
    names = [s["name"] for s in (await env.client.get("/api/v1/services"))["services"]]
    assert names == ["db", "web"]
    assert "<h2>Web check</h2>" in await page(env)


async def test_status_page_can_be_disabled(env: Env) -> None:
    """status_page.enabled: false -> 404 (JSON), the API stays."""
    env.api.reconfigure(api_config(env.host, status_page=False))
    status, data = await env.client.call("GET", "/status", token=None)
    assert status == 404
    assert "disabled" in data["error"]
    assert (await env.client.call("GET", "/api/v1/services", token=None))[0] == 200


async def test_page_is_rendered_at_most_every_ten_seconds(env: Env) -> None:
    """Within PAGE_TTL the same page is served (customers reload during outages); then a new one."""
    clock = FakeClock(time.time())
    env.api.api.clock = clock
    await env.daemon.run_check("web")
    await env.daemon.run_check("db")
    first = await page(env)
    assert 'data-overall="operational"' in first
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    clock.advance(5)
    assert await page(env) == first
    clock.advance(6)
    assert 'data-overall="outage"' in await page(env)
