"""`/metrics` parsed with prometheus_client's own parser, against a live daemon."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from apihelpers import Env
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from watchd import __version__
from watchd.api.metrics import DaemonCollector, normalise, quantile, registry_for


async def scrape(env: Env) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}} from one scrape."""
    async with env.client.session.get(env.client.base + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await resp.text()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def one(samples: dict, name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


@pytest.mark.parametrize(
    ("value", "uom", "expected"),
    [
        pytest.param(1.5, "s", 1.5, id="s"),
        pytest.param(250, "ms", 0.25, id="ms"),
        pytest.param(250, "us", 0.00025, id="us"),
        pytest.param(75, "%", 0.75, id="percent-to-ratio"),
        pytest.param(3, "B", 3, id="bytes"),
        pytest.param(2, "KB", 2048, id="KB-is-1024"),
        pytest.param(2, "MB", 2 * 1024**2, id="MB"),
        pytest.param(2, "GB", 2 * 1024**3, id="GB"),
        pytest.param(1, "TB", 1024**4, id="TB"),
        pytest.param(1, "GiB", 1024**3, id="GiB"),
        pytest.param(1, "kb", 1024, id="case-insensitive"),
        pytest.param(12345, "c", 12345, id="counter-unchanged"),
        pytest.param(7, "", 7, id="no-unit"),
        pytest.param(7, "req/s", 7, id="unknown-unit-unchanged"),
    ],
)
def test_normalise_units(value: float, uom: str, expected: float) -> None:
    """Perfdata units become base units: seconds, bytes (1024 steps), ratio."""
    assert normalise(value, uom) == pytest.approx(expected)


def test_quantile_nearest_rank() -> None:
    """Nearest-rank quantiles; no samples gives NaN."""
    values = [float(i) for i in range(1, 101)]
    assert [quantile(values, q) for q in (0.5, 0.9, 0.99, 1.0)] == [50.0, 90.0, 99.0, 100.0]
    assert quantile([], 0.5) != quantile([], 0.5)  # NaN


async def test_check_and_perfdata_metrics(env: Env) -> None:
    """Perfdata in base units with host/check/label; state, hard flag and duration per check."""
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    await env.daemon.run_check("db")
    m = await scrape(env)
    assert one(m, "watchd_perfdata", host="web01", check="web", label="time") == pytest.approx(0.25)
    assert one(m, "watchd_perfdata", host="web01", check="web", label="size") == 2048
    assert one(m, "watchd_perfdata", host="web01", check="web", label="load") == pytest.approx(0.75)
    assert one(m, "watchd_perfdata", host="web01", check="db", label="hits") == 5
    assert one(m, "watchd_check_state", check="web") == 2
    assert one(m, "watchd_check_state", check="db") == 0
    assert one(m, "watchd_check_hard", check="web") == 1
    assert one(m, "watchd_check_flapping", check="web") == 0
    assert 0 < one(m, "watchd_check_duration_seconds", check="web") < 5
    assert one(m, "watchd_check_last_run_timestamp_seconds", check="web") > 1.7e9
    assert one(m, "watchd_results_total") == 2
    assert one(m, "watchd_checks_configured") == 2
    assert one(m, "watchd_build_info", host="web01", version=__version__) == 1


async def test_scheduler_metrics(env: Env) -> None:
    """Lateness is a summary over the scheduler's window; starts are a counter."""
    env.daemon.scheduler.stats.lateness.extend([i / 1000 for i in range(1, 101)])
    env.daemon.scheduler.stats.started = 100
    m = await scrape(env)
    assert one(m, "watchd_scheduler_lateness_seconds", quantile="0.5") == pytest.approx(0.05)
    assert one(m, "watchd_scheduler_lateness_seconds", quantile="0.99") == pytest.approx(0.099)
    assert one(m, "watchd_scheduler_lateness_seconds_count") == 100
    assert one(m, "watchd_scheduler_lateness_seconds_sum") == pytest.approx(5.05)
    assert one(m, "watchd_checks_started_total") == 100
    assert one(m, "watchd_checks_running") == 0
    assert one(m, "watchd_checks_skipped_overlap_total") == 0


async def test_outbox_and_incident_metrics(env: Env) -> None:
    """Backlog per channel drains on delivery; open incidents by priority; SLA breaches counted."""
    await env.daemon.parts.deliverer.stop()  # deliver by hand, to see the backlog first
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    m = await scrape(env)
    assert one(m, "watchd_outbox_backlog", channel="ticket:builtin") == 1
    assert one(m, "watchd_incidents_open", priority="P3") == 1
    assert one(m, "watchd_incidents_open", priority="P1") == 0
    assert one(m, "watchd_incidents_open_sla_breached", kind="response", priority="P3") == 0
    await env.daemon.parts.deliverer.run_once()
    db = env.daemon.store.db
    db.execute("UPDATE incidents SET respond_by = 1, response_breached_at = 2")  # long overdue
    m = await scrape(env)
    assert one(m, "watchd_outbox_backlog", channel="ticket:builtin") == 0
    assert one(m, "watchd_outbox_delivered_total") == 1
    assert one(m, "watchd_outbox_delivery_failures_total") == 0
    assert one(m, "watchd_outbox_channel_failing", channel="ticket:builtin") == 0
    assert one(m, "watchd_incidents_open_sla_breached", kind="response", priority="P3") == 1
    assert one(m, "watchd_incidents_open_sla_breached", kind="resolution", priority="P3") == 0
    assert one(m, "watchd_incidents_sla_breached", kind="response", priority="P3") == 1
    env.host.set("web", 0)
    await env.daemon.run_check("web")
    m = await scrape(env)
    assert one(m, "watchd_incidents_open", priority="P3") == 0
    assert one(m, "watchd_incidents_open_sla_breached", kind="response", priority="P3") == 0
    assert one(m, "watchd_incidents_sla_breached", kind="response", priority="P3") == 1  # history stays


async def test_mqtt_metrics(env: Env) -> None:
    """MQTT: disabled without a bus; connected follows the bus."""
    m = await scrape(env)
    assert (one(m, "watchd_mqtt_enabled"), one(m, "watchd_mqtt_connected")) == (0, 0)

    class Bus:
        connected = True

    env.daemon.bus = Bus()  # type: ignore[assignment]
    try:
        m = await scrape(env)
    finally:
        env.daemon.bus = None  # the stand-in cannot be stopped like a real bus
    assert (one(m, "watchd_mqtt_enabled"), one(m, "watchd_mqtt_connected")) == (1, 1)


async def test_no_global_registry_state(env: Env) -> None:
    """The collector lives in the API's own registry, never in prometheus_client's global one."""
    await scrape(env)
    assert b"watchd_" not in generate_latest(REGISTRY)


async def test_repeated_and_unknown_perfdata_values(env: Env, script: Callable[[str, str], str]) -> None:
    """A repeated label keeps the first value; 'U' (no value) is left out."""
    plugin = script("check_odd", "#!/bin/sh\necho 'ODD | a=1 a=2 b=U'\n")
    env.host.cfg.write_text(env.host.cfg.read_text() + f"  odd: {{command: [{plugin}]}}\n")
    assert await env.daemon.reload() == []
    await env.daemon.run_check("odd")
    m = await scrape(env)
    assert one(m, "watchd_perfdata", host="web01", check="odd", label="a") == 1
    assert not any(("label", "b") in labels for labels in m["watchd_perfdata"])


def semantic(text: bytes) -> list[tuple[str, tuple[tuple[str, str], ...], str]]:
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), repr(s.value))  # repr: NaN equals NaN
        for f in text_string_to_metric_families(text.decode())
        for s in f.samples
    )


async def test_fast_text_equals_prometheus_client_output(env: Env) -> None:
    """The cached fast path says exactly what generate_latest says over the same collector, also
    after checks change state (the cache follows) and after a check is removed."""
    collector = DaemonCollector(env.api.api)
    registry = registry_for(env.api.api)
    await env.daemon.run_check("web")
    await env.daemon.run_check("db")
    assert semantic(collector.text()) == semantic(generate_latest(registry))
    assert semantic(collector.text()) == semantic(generate_latest(registry))  # from the cache
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    first = collector.text()
    assert ("watchd_check_state", (("check", "web"),), "2.0") in semantic(first)
    assert semantic(first) == semantic(generate_latest(registry))
    env.host.checks = ("web",)
    env.host.write()
    assert await env.daemon.reload() == []
    assert "db" not in env.daemon.last_results  # a removed check's last result is forgotten too
    assert semantic(collector.text()) == semantic(generate_latest(registry))
    assert "db" not in collector._cache["watchd_check_state"]


def test_label_values_are_escaped() -> None:
    """Quotes, backslashes and newlines in label values are escaped as the format wants."""
    from watchd.api.metrics import _line

    line = _line("m", {"check": 'a"b\\c\nd'}, 1.0)
    assert line == 'm{check="a\\"b\\\\c\\nd"} 1.0\n'
    [family] = text_string_to_metric_families(line)
    assert family.samples[0].labels["check"] == 'a"b\\c\nd'
