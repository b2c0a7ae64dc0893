"""`type: munin` against real plugins from Debian's munin-plugins-core, cross-checked against /proc and
statvfs, and small hand-written plugins for the edge cases (failures, hangs, garbage, caching, state).

Rate fields are timed by an injected FakeClock, except where a rate is compared with the kernel's own
counters over a measured interval.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from watchd import config as config_mod
from watchd.config import ConfigError
from watchd.core.clock import FakeClock
from watchd.core.model import CheckResult, State
from watchd.sources import BuildContext, factory_for
from watchd.sources.munin.source import MuninSource

PLUGINS = Path("/usr/share/munin/plugins")
pytestmark = pytest.mark.skipif(
    not (PLUGINS / "load").exists(),
    reason="munin-plugins-core is not installed (scripts/bootstrap --test installs it)",
)
Script = Callable[[str, str], str]


@pytest.fixture
def mctx(tmp_path: Path) -> BuildContext:
    return BuildContext(host="monitor.test", config_dir=str(tmp_path), data_dir=str(tmp_path / "data"))


def build(params: dict[str, Any], ctx: BuildContext, name: str = "m") -> MuninSource:
    factory = factory_for("munin")
    assert factory is not None
    src = factory(name, params, ctx)
    assert isinstance(src, MuninSource)
    return src


def perf(result: CheckResult) -> dict[str, float | None]:
    return {p.label: p.value for p in result.perfdata}


def read(path: str | Path) -> str:
    return Path(path).read_text()


def write(path: str | Path, text: str) -> None:
    Path(path).write_text(text)


def fake(src: MuninSource) -> FakeClock:
    clock = FakeClock()
    src.clock = clock
    return clock


# -- real plugins -----------------------------------------------------------------------------------


async def test_load_matches_proc(mctx: BuildContext) -> None:
    """`load` reports the 5-minute load average, as /proc/loadavg says around the run."""
    before = float(read("/proc/loadavg").split()[1])
    result = await build({"plugin": "load"}, mctx).run(10)
    after = float(read("/proc/loadavg").split()[1])
    assert result.state is State.OK, result
    value = perf(result)["load"]
    assert value is not None
    assert min(before, after) - 0.01 <= value <= max(before, after) + 0.01
    assert result.summary.startswith("MUNIN OK - Load average: load ")


async def test_load_warning_from_env(mctx: BuildContext) -> None:
    """`env: {warning: ...}` reaches the plugin as Munin's env.warning; its threshold judges the value."""
    result = await build({"plugin": "load", "env": {"warning": "-1", "critical": "1000"}}, mctx).run(10)
    assert result.state is State.WARNING, result
    assert (result.perfdata[0].warn, result.perfdata[0].crit) == ("~:-1", "~:1000")


async def test_cpu_derive_rates(mctx: BuildContext) -> None:
    """`cpu` is DERIVE: the first run primes (U), the second gives jiffies per second that add up to
    USER_HZ x CPUs over the measured interval."""
    src = build({"plugin": "cpu"}, mctx)
    clock = fake(src)
    t0 = time.monotonic()
    first = await src.run(10)
    t1 = time.monotonic()
    assert first.state is State.OK
    assert "collecting the first sample" in first.summary
    assert set(perf(first).values()) == {None}
    await asyncio.sleep(1.5)  # the kernel's counters must move; the interval is measured, not assumed
    clock.advance(1.0)  # the source divides by 1 s: the rates are the plain deltas
    t2 = time.monotonic()
    second = await src.run(10)
    elapsed = (t2 + time.monotonic()) / 2 - (t0 + t1) / 2  # between the middles of the two runs
    rates = perf(second)
    assert all(v is not None and v >= 0 for v in rates.values()), rates
    busy_and_idle = sum(v or 0.0 for k, v in rates.items() if k != "guest")  # guest is inside user
    expected = os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1) * elapsed
    assert busy_and_idle == pytest.approx(expected, rel=0.15)
    assert all(p.min == 0 and p.uom == "" for p in second.perfdata)


async def test_memory_in_bytes(mctx: BuildContext) -> None:
    """`memory` fields are bytes (graph_vlabel Bytes -> uom B); `free` is MemFree."""
    result = await build({"plugin": "memory"}, mctx).run(10)
    meminfo = {
        k: int(v.split()[0]) * 1024
        for k, _, v in (line.partition(":") for line in read("/proc/meminfo").splitlines())
    }
    assert result.state is State.OK
    assert {p.uom for p in result.perfdata} == {"B"}
    free = perf(result)["free"]
    assert free is not None
    assert free == pytest.approx(meminfo["MemFree"], abs=256 * 1024 * 1024)


def _is_mount(label: str) -> bool:
    return label.startswith("/") and os.path.isdir(label)


def _usage_percent(mount: str) -> float:
    st = os.statvfs(mount)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return 100.0 * used / (used + avail) if used + avail else 0.0


async def test_df_thresholds_from_env_and_check(mctx: BuildContext) -> None:
    """`df` takes warning/critical from its environment; the check's own critical overrides it."""
    probe = build({"plugin": "df"}, mctx, "probe")
    await probe.run(20)
    assert probe.cache.config is not None
    # df labels each field with its mount point; / is missing where the mount table omits it (chroots).
    fields = sorted((f for g in probe.cache.config.graphs for f in g.fields), key=lambda f: f.label != "/")
    chosen = next((f for f in fields if _is_mount(f.label) and _usage_percent(f.label) >= 2), None)
    if chosen is None:
        pytest.skip("df lists no file system that is at least 2% used")
    used = _usage_percent(chosen.label)
    warn = int(used) - 1
    params: dict[str, Any] = {"plugin": "df", "env": {"warning": str(warn), "critical": "100"}}
    src = build(params, mctx)
    result = await src.run(20)
    field = next(p for p in result.perfdata if p.label == chosen.name)
    assert field.value == pytest.approx(used, abs=2)
    assert (field.uom, field.warn, field.crit) == ("%", f"~:{warn}", "~:100")
    assert result.state is State.WARNING, result
    assert f"{chosen.label} " in result.summary
    params["critical"] = f"~:{warn}"  # the check's own (Nagios) range wins over the plugin's
    result = await build(params, mctx, "m2").run(20)
    assert result.state is State.CRITICAL, result


async def test_uptime_in_days(mctx: BuildContext) -> None:
    """`uptime` reports days with two decimals."""
    result = await build({"plugin": "uptime"}, mctx).run(10)
    days = float(read("/proc/uptime").split()[0]) / 86400
    value = perf(result)["uptime"]
    assert value is not None
    assert value == pytest.approx(days, abs=0.011)


async def test_buddyinfo_multigraph(mctx: BuildContext) -> None:
    """`buddyinfo` is multigraph (it refuses without MUNIN_CAP_MULTIGRAPH): one graph in total and one
    per zone in /proc/buddyinfo, every field labelled graph.field."""
    zones = [ln for ln in read("/proc/buddyinfo").splitlines() if ln.strip()]
    result = await build({"plugin": "buddyinfo"}, mctx).run(10)
    assert result.state is State.OK, result
    graphs = {p.label.rpartition(".")[0] for p in result.perfdata}
    assert len(graphs) == 1 + len(zones)
    assert "buddyinfo.order0" in perf(result)
    assert result.summary.startswith(f"MUNIN OK - {1 + len(zones)} graphs, ")


async def test_autoconf_yes_runs(mctx: BuildContext) -> None:
    """A plugin whose magic markers offer autoconf is asked first; `yes` lets it run."""
    result = await build({"plugin": "uptime", "autoconf": True}, mctx).run(10)
    assert result.state is State.OK


# -- hand-written plugins for the edge cases --------------------------------------------------------

GAUGE = """#!/bin/sh
if [ "$1" = config ]; then
  echo "graph_title Demo"
  echo "x.label x"
  echo "x.warning ${{X_WARN:-10}}"
  exit 0
fi
{fetch}
"""


@pytest.mark.parametrize(
    ("fetch", "timeout", "expected"),
    [
        pytest.param('echo "cannot read /nope" >&2; exit 1', 5, "exited with status 1: cannot read /nope",
                     id="fails"),
        pytest.param("exec sleep 30", 0.5, "timed out after", id="hangs"),
        pytest.param("echo 'Traceback (most recent call last):'; echo '  oops'", 5,
                     "line 1: 'Traceback (most recent call last):'", id="garbage"),
        pytest.param("kill -9 $$", 5, "killed by signal 9", id="killed"),
    ],
)
async def test_broken_plugins(
    mctx: BuildContext, script: Script, fetch: str, timeout: float, expected: str
) -> None:
    """A plugin that fails, hangs, dies or prints garbage is UNKNOWN and the summary says why."""
    path = script("demo", GAUGE.format(fetch=fetch))
    started = time.monotonic()
    result = await build({"plugin": path}, mctx).run(timeout)
    assert time.monotonic() - started < timeout + 3
    assert result.state is State.UNKNOWN
    assert expected in result.summary
    assert result.reason is not None


async def test_missing_plugin(mctx: BuildContext) -> None:
    """A plugin that is not there is UNKNOWN naming the path."""
    result = await build({"plugin": "no_such_plugin_here"}, mctx).run(5)
    assert result.state is State.UNKNOWN
    assert "cannot execute no_such_plugin_here" in result.summary


async def test_config_is_cached_and_reread(mctx: BuildContext, script: Script, tmp_path: Path) -> None:
    """`config` runs once, again when the plugin file changes, when it is older than
    config_interval, and when a fetch shows an undeclared field."""
    log = tmp_path / "calls"
    body = f"""#!/bin/sh
echo "${{1:-fetch}}" >> {log}
if [ "$1" = config ]; then echo "x.label x"; [ -e {tmp_path}/more ] && echo "y.label y"; exit 0; fi
echo "x.value 1"
[ -e {tmp_path}/more ] && echo "y.value 2"
exit 0
"""
    path = script("cached", body)
    src = build({"plugin": path, "config_interval": 600}, mctx)
    clock = fake(src)

    def calls() -> list[str]:
        return read(log).split()

    for _ in range(3):
        assert (await src.run(5)).state is State.OK
    assert calls() == ["config", "fetch", "fetch", "fetch"]
    (tmp_path / "more").touch()  # a new field appears in the fetch: read the config again
    result = await src.run(5)
    assert calls()[4:] == ["fetch", "config"]
    assert perf(result) == {"x": 1.0, "y": 2.0}
    assert result.reason is None  # y is declared by the re-read config
    clock.advance(601)
    await src.run(5)
    assert calls()[6:] == ["config", "fetch"]
    write(path, body + "# changed\n")  # the plugin was upgraded
    await src.run(5)
    assert calls()[8:] == ["config", "fetch"]


async def test_environment_and_state_file(mctx: BuildContext, script: Script, tmp_path: Path) -> None:
    """The plugin sees munin-node's variables and the check's env; MUNIN_STATEFILE is writable and
    survives between runs (a counter kept by the plugin itself)."""
    body = """#!/bin/sh
if [ "$1" = config ]; then echo "n.label runs"; echo "v.label v"; exit 0; fi
n=$(cat "$MUNIN_STATEFILE" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$MUNIN_STATEFILE"
echo "n.value $n"
echo "v.value $DEMO_VALUE"
test -d "$MUNIN_PLUGSTATE" && test "$MUNIN_CAP_MULTIGRAPH" = 1 && test -f "$MUNIN_LIBDIR/plugins/plugin.sh" \
  || echo "missing munin environment" >&2
"""
    src = build({"plugin": script("stateful", body), "env": {"DEMO_VALUE": "42"}}, mctx, "stateful-check")
    first, second = await src.run(5), await src.run(5)
    assert perf(first) == {"n": 1.0, "v": 42.0}
    assert perf(second) == {"n": 2.0, "v": 42.0}
    assert second.reason is None
    statefile = tmp_path / "data" / "munin" / "state" / "stateful-check-"
    assert read(statefile).strip() == "2"
    assert oct(statefile.parent.stat().st_mode & 0o777) == "0o700"


async def test_derive_from_hand_written_counter(mctx: BuildContext, script: Script, tmp_path: Path) -> None:
    """A DERIVE counter that grows by 10 per run, with the clock moved 5 s: 2 per second."""
    body = """#!/bin/sh
if [ "$1" = config ]; then echo "c.label c"; echo "c.type DERIVE"; echo "c.min 0"; exit 0; fi
n=$(cat "$MUNIN_STATEFILE" 2>/dev/null || echo 0); n=$((n + 10)); echo "$n" > "$MUNIN_STATEFILE"
echo "c.value $n"
"""
    src = build({"plugin": script("counter", body), "critical": "~:1"}, mctx)
    clock = fake(src)
    values = []
    for _ in range(3):
        result = await src.run(5)
        values.append((perf(result)["c"], result.state))
        clock.advance(5)
    assert values == [(None, State.OK), (2.0, State.CRITICAL), (2.0, State.CRITICAL)]


async def test_unknown_values_turn_unknown(mctx: BuildContext, script: Script) -> None:
    """A field with thresholds that keeps printing U is UNKNOWN from the third run."""
    src = build({"plugin": script("u", GAUGE.format(fetch="echo 'x.value U'"))}, mctx)
    states = [(await src.run(5)).state for _ in range(3)]
    assert states == [State.OK, State.OK, State.UNKNOWN]


async def test_autoconf_no(mctx: BuildContext, script: Script) -> None:
    """A plugin that says `no` to autoconf is UNKNOWN with its own words; fetch never runs."""
    body = "#!/bin/sh\n#%# family=auto\n#%# capabilities=autoconf\n" + (
        '[ "$1" = autoconf ] && { echo "no (no frobnicator here)"; exit 0; }\n'
        '[ "$1" = config ] && { echo "x.label x"; exit 0; }\necho x.value 1\n'
    )
    result = await build({"plugin": script("auto", body), "autoconf": True}, mctx).run(5)
    assert result.state is State.UNKNOWN
    assert "autoconf: no (no frobnicator here)" in result.summary


async def test_wildcard_plugin(mctx: BuildContext, tmp_path: Path) -> None:
    """`plugin: demo_eth7` runs the wildcard plugin `demo_` through a symlink named demo_eth7."""
    d = tmp_path / "plugins"
    d.mkdir()
    (d / "demo_").write_text(
        '#!/bin/sh\nnic=${0##*/demo_}\n[ "$1" = config ] && { echo "${nic}.label $nic"; exit 0; }\n'
        'echo "${nic}.value 7"\n'
    )
    (d / "demo_").chmod(0o755)
    result = await build({"plugin": "demo_eth7", "plugin_dirs": [str(d)]}, mctx).run(5)
    assert perf(result) == {"eth7": 7.0}


async def test_munin_check_in_config(tmp_path: Path) -> None:
    """A munin check in watchd.yaml builds; a typo in its keys is an error naming file, line and key."""
    path = tmp_path / "watchd.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\nchecks:\n  load:\n    type: munin\n    plugin: load\n"
        "    env: {warning: '5'}\n    fields: {load: {critical: '~:20'}}\n"
    )
    cfg = config_mod.load(str(path))
    result = await cfg.checks["load"].source.run(10)  # type: ignore[union-attr]
    assert result.perfdata[0].crit == "~:20"
    assert result.perfdata[0].value is not None
    write(path, read(path) + "    plugn: typo\n")
    with pytest.raises(ConfigError) as info:
        config_mod.load(str(path))
    assert f"{path}:8: checks.load.plugn: unknown key" in str(info.value)
