"""Pure evaluators of the resource checks: figures + thresholds -> state, summary, perfdata."""

from __future__ import annotations

import pytest

from watchd.core.model import PerfDatum, State
from watchd.nagios.range import Thresholds
from watchd.sources.resources.cpu import CpuFigures, CpuThresholds, cpu_percentages, evaluate_cpu
from watchd.sources.resources.disk import (
    PSEUDO_FSTYPES,
    DiskFigures,
    DiskThresholds,
    Mount,
    MountProblem,
    evaluate_disks,
    select_mounts,
)
from watchd.sources.resources.load import LoadFigures, evaluate_load
from watchd.sources.resources.memory import MemoryFigures, SwapFigures, evaluate_memory, evaluate_swap
from watchd.sources.resources.process import (
    Matcher,
    ProcessThresholds,
    ProcInfo,
    cpu_percent,
    evaluate_processes,
)
from watchd.sources.resources.uptime import RebootFlag, evaluate_reboot, evaluate_uptime, human_duration
from watchd.sources.verdict import Figure, finish, human_bytes, judge

GiB = 1 << 30


def perf(verdict_perf: tuple[PerfDatum, ...]) -> dict[str, float | None]:
    return {p.label: p.value for p in verdict_perf}


# --- cpu -------------------------------------------------------------------------------------------

BEFORE = {
    "user": 100.0,
    "nice": 0.0,
    "system": 50.0,
    "idle": 800.0,
    "iowait": 10.0,
    "irq": 0.0,
    "softirq": 0.0,
    "steal": 0.0,
    "guest": 0.0,
    "guest_nice": 0.0,
}


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        pytest.param({"idle": 10.0}, CpuFigures(0.0, 0.0, 0.0, 0.0, 0.0), id="all-idle"),
        pytest.param({"user": 5.0, "idle": 5.0}, CpuFigures(50.0, 50.0, 0.0, 0.0, 0.0), id="half-user"),
        pytest.param(
            {"system": 2.0, "softirq": 1.0, "iowait": 3.0, "idle": 4.0},
            CpuFigures(30.0, 0.0, 30.0, 30.0, 0.0),
            id="iowait-is-not-busy",
        ),
        pytest.param(
            {"steal": 2.0, "nice": 2.0, "idle": 6.0}, CpuFigures(40.0, 20.0, 0.0, 0.0, 20.0), id="steal"
        ),
        pytest.param(
            {"user": 5.0, "guest": 5.0, "idle": 5.0},
            CpuFigures(50.0, 50.0, 0.0, 0.0, 0.0),
            id="guest-counted-once",
        ),
    ],
)
def test_cpu_percentages(delta: dict[str, float], expected: CpuFigures) -> None:
    """Percentages are shares of all CPU time between two samples; guest time is already in user."""
    after = {k: v + delta.get(k, 0.0) for k, v in BEFORE.items()}
    got = cpu_percentages(BEFORE, after)
    assert got is not None
    for field in ("busy", "user", "system", "iowait", "steal"):
        assert getattr(got, field) == pytest.approx(getattr(expected, field))


def test_cpu_percentages_need_time_to_pass() -> None:
    """Two identical samples cannot give a percentage: None, never a fake zero."""
    assert cpu_percentages(BEFORE, dict(BEFORE)) is None


@pytest.mark.parametrize(
    ("figures", "thresholds", "state", "words"),
    [
        pytest.param(
            CpuFigures(50, 40, 10, 0, 0), CpuThresholds(), State.OK, "busy 50.0%", id="no-thresholds"
        ),
        pytest.param(
            CpuFigures(95, 90, 5, 0, 0),
            CpuThresholds(busy=Thresholds("80", "90")),
            State.CRITICAL,
            "busy 95.0% (critical 90)",
            id="busy-critical",
        ),
        pytest.param(
            CpuFigures(30, 5, 5, 20, 0),
            CpuThresholds(iowait=Thresholds("10")),
            State.WARNING,
            "iowait 20.0% (warning 10)",
            id="iowait-warning",
        ),
        pytest.param(
            CpuFigures(30, 5, 5, 0, 20),
            CpuThresholds(steal=Thresholds(crit="15")),
            State.CRITICAL,
            "steal 20.0%",
            id="steal-critical",
        ),
    ],
)
def test_evaluate_cpu(figures: CpuFigures, thresholds: CpuThresholds, state: State, words: str) -> None:
    """The figure that breaks its range is named in the summary with the range."""
    v = evaluate_cpu(figures, thresholds)
    assert v.state is state
    assert words in v.text
    assert [p.label for p in v.perfdata] == ["busy", "user", "system", "iowait", "steal"]


# --- load ------------------------------------------------------------------------------------------

T3 = tuple[Thresholds, Thresholds, Thresholds]
NONE3: T3 = (Thresholds(), Thresholds(), Thresholds())


@pytest.mark.parametrize(
    ("figures", "thresholds", "per_core", "state", "values"),
    [
        pytest.param(LoadFigures(1.0, 2.0, 3.0, 4), NONE3, False, State.OK, [1.0, 2.0, 3.0], id="plain"),
        pytest.param(LoadFigures(4.0, 2.0, 1.0, 4), NONE3, True, State.OK, [1.0, 0.5, 0.25], id="per-core"),
        pytest.param(
            LoadFigures(9.0, 2.0, 1.0, 4),
            (Thresholds("8"), Thresholds("8"), Thresholds("8")),
            False,
            State.WARNING,
            [9.0, 2.0, 1.0],
            id="load1-warning",
        ),
        pytest.param(
            LoadFigures(9.0, 9.0, 9.0, 2),
            (Thresholds(crit="5"),) * 3,
            True,
            State.OK,
            [4.5, 4.5, 4.5],
            id="per-core-under",
        ),
        pytest.param(
            LoadFigures(1.0, 1.0, 6.0, 1),
            (Thresholds(), Thresholds(), Thresholds(crit="5")),
            False,
            State.CRITICAL,
            [1.0, 1.0, 6.0],
            id="load15-only",
        ),
    ],
)
def test_evaluate_load(
    figures: LoadFigures, thresholds: T3, per_core: bool, state: State, values: list[float]
) -> None:
    """Each window has its own range; per_core divides by the CPU count before comparing."""
    v = evaluate_load(figures, thresholds, per_core)
    assert v.state is state
    assert list(perf(v.perfdata).values()) == pytest.approx(values)
    assert list(perf(v.perfdata)) == ["load1", "load5", "load15"]


# --- memory and swap -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("figures", "used", "available", "state", "words"),
    [
        pytest.param(
            MemoryFigures(8 * GiB, 6 * GiB),
            Thresholds("80", "90"),
            Thresholds(),
            State.OK,
            "25.0% used",
            id="ok",
        ),
        pytest.param(
            MemoryFigures(8 * GiB, GiB // 2),
            Thresholds("80", "90"),
            Thresholds(),
            State.CRITICAL,
            "93.8% used (critical 90)",
            id="used-critical",
        ),
        pytest.param(
            MemoryFigures(8 * GiB, GiB // 2),
            Thresholds(),
            Thresholds(f"{GiB}:"),
            State.WARNING,
            "512.0 MiB available (warning 1073741824:)",
            id="available-below",
        ),
    ],
)
def test_evaluate_memory(
    figures: MemoryFigures, used: Thresholds, available: Thresholds, state: State, words: str
) -> None:
    """Used % and available bytes each have their own range."""
    v = evaluate_memory(figures, used, available)
    assert v.state is state
    assert words in v.text
    assert perf(v.perfdata)["available"] == figures.available


def test_swap_absent_is_ok_with_stable_labels() -> None:
    """No swap is not a problem, and the perfdata labels stay the same."""
    v = evaluate_swap(SwapFigures(0, 0), Thresholds("50", "80"))
    assert v.state is State.OK
    assert v.text == "no swap configured"
    assert list(perf(v.perfdata)) == ["used_pct", "used"]


def test_swap_used() -> None:
    """Swap used % is checked against its range."""
    v = evaluate_swap(SwapFigures(4 * GiB, 3 * GiB), Thresholds("50", "80"))
    assert v.state is State.WARNING
    assert perf(v.perfdata)["used_pct"] == 75.0


# --- disk ------------------------------------------------------------------------------------------

MOUNTS = [
    Mount("/", "/dev/vda1", "ext4"),
    Mount("/proc", "proc", "proc"),
    Mount("/run", "tmpfs", "tmpfs"),
    Mount("/srv", "/dev/vdb", "xfs"),
    Mount("/srv/bind", "/dev/vdb", "xfs"),  # bind mount of the same device
    Mount("/snap/core/1", "/dev/loop0", "squashfs"),
]
DEFAULT_EXCLUDE = frozenset(PSEUDO_FSTYPES)


@pytest.mark.parametrize(
    ("wanted", "exclude", "chosen", "problems"),
    [
        pytest.param((), DEFAULT_EXCLUDE, ["/", "/srv"], [], id="real-filesystems-once-per-device"),
        pytest.param(("/run",), DEFAULT_EXCLUDE, ["/run"], [], id="named-mount-even-if-excluded"),
        pytest.param(("/data",), DEFAULT_EXCLUDE, [], ["/data is not mounted"], id="named-missing-critical"),
        pytest.param(("/srv/",), DEFAULT_EXCLUDE, ["/srv"], [], id="trailing-slash"),
        pytest.param((), frozenset({"proc"}), ["/", "/run", "/srv", "/snap/core/1"], [], id="custom-exclude"),
    ],
)
def test_select_mounts(
    wanted: tuple[str, ...], exclude: frozenset[str], chosen: list[str], problems: list[str]
) -> None:
    """Pseudo filesystems are skipped unless named; a named mount that is missing is CRITICAL."""
    got, missing = select_mounts(MOUNTS, wanted, exclude)
    assert [m.mountpoint for m in got] == chosen
    assert [p.text for p in missing] == problems
    assert all(p.state is State.CRITICAL for p in missing)


CONTAINER = [  # a Docker container: an overlay root, kernel interfaces, tmpfs and a bind-mounted volume
    Mount("/", "overlay", "overlay"),
    Mount("/proc", "proc", "proc"),
    Mount("/dev", "tmpfs", "tmpfs"),
    Mount("/dev/shm", "shm", "tmpfs"),
    Mount("/sys/fs/cgroup", "cgroup", "cgroup2"),
    Mount("/data", "/dev/vdb", "ext4"),
    Mount("/etc/hosts", "/dev/vda1", "ext4"),
    Mount("/etc/hostname", "/dev/vda1", "ext4"),  # bind mounts of one host filesystem
]
CHROOT = [  # a chroot: the mount table lists no entry for the root, only what is mounted inside it
    Mount("/proc", "proc", "proc"),
    Mount("/sys", "sysfs", "sysfs"),
    Mount("/dev", "udev", "devtmpfs"),
    Mount("/dev/shm", "shm", "tmpfs"),
]
LIVE = [  # a live system: a tmpfs root, two more tmpfs mounts and the boot medium
    Mount("/", "tmpfs", "tmpfs"),
    Mount("/run", "tmpfs", "tmpfs"),
    Mount("/tmp", "tmpfs", "tmpfs"),
    Mount("/run/live/medium", "/dev/sr0", "iso9660"),
    Mount("/mnt/root-again", "/dev/vda1", "ext4"),
]


@pytest.mark.parametrize(
    ("mounts", "wanted", "exclude", "chosen"),
    [
        pytest.param(CONTAINER, (), DEFAULT_EXCLUDE, ["/", "/data", "/etc/hosts"],
                     id="container-overlay-root"),
        pytest.param(CHROOT, (), DEFAULT_EXCLUDE, ["/"], id="chroot-unlisted-root"),
        pytest.param(CHROOT, ("/",), DEFAULT_EXCLUDE, ["/"], id="chroot-root-named"),
        pytest.param(LIVE, (), DEFAULT_EXCLUDE, ["/", "/mnt/root-again"], id="tmpfs-root"),
        pytest.param(LIVE, (), frozenset(), ["/", "/run", "/tmp", "/run/live/medium", "/mnt/root-again"],
                     id="tmpfs-mounts-are-not-one-device"),
        pytest.param([*MOUNTS, Mount("/mnt/again", "/dev/vda1", "ext4")], (), DEFAULT_EXCLUDE, ["/", "/srv"],
                     id="bind-of-the-root-device"),
    ],
)  # fmt: skip
def test_select_mounts_root_always(
    mounts: list[Mount], wanted: tuple[str, ...], exclude: frozenset[str], chosen: list[str]
) -> None:
    """The root filesystem is checked whatever its type and even when the mount table omits it."""
    got, missing = select_mounts(mounts, wanted, exclude)
    assert [m.mountpoint for m in got] == chosen
    assert missing == []



ROOT = DiskFigures("/", total=100 * GiB, free=20 * GiB, used=75 * GiB, files=1000, files_free=100)


@pytest.mark.parametrize(
    ("thresholds", "state", "words"),
    [
        pytest.param(DiskThresholds(), State.OK, "/ 79% used", id="ok"),
        pytest.param(
            DiskThresholds(used=Thresholds("70", "90")),
            State.WARNING,
            "/ 78.9% used (warning 70)",
            id="used-warning",
        ),
        pytest.param(
            DiskThresholds(inodes=Thresholds("80", "85")),
            State.CRITICAL,
            "/ inodes 90.0% used (critical 85)",
            id="inodes-critical",
        ),
        pytest.param(
            DiskThresholds(free=Thresholds(crit=f"{50 * GiB}:")),
            State.CRITICAL,
            "/ 20.0 GiB free",
            id="free-bytes",
        ),
    ],
)
def test_evaluate_disks(thresholds: DiskThresholds, state: State, words: str) -> None:
    """Used % is df's (reserved blocks excluded); inodes and free bytes have their own ranges."""
    v = evaluate_disks([ROOT], [], thresholds)
    assert v.state is state
    assert words in v.text
    assert list(perf(v.perfdata)) == ["/:used_pct", "/:free", "/:inodes_used_pct"]


def test_disk_without_inode_table_has_no_inode_figure() -> None:
    """btrfs reports 0 inodes: no inode percentage rather than a division by zero."""
    v = evaluate_disks([DiskFigures("/", GiB, GiB // 2, GiB // 2, 0, 0)], [], DiskThresholds())
    assert "/:inodes_used_pct" not in perf(v.perfdata)


def test_disk_unknown_mount_does_not_hide_a_critical_one() -> None:
    """A stuck mount is UNKNOWN; another mount's CRITICAL still wins."""
    stuck = MountProblem("/nfs", State.UNKNOWN, "timed out after 1s reading /nfs")
    v = evaluate_disks([ROOT], [stuck], DiskThresholds(used=Thresholds(crit="50")))
    assert v.state is State.CRITICAL
    assert "timed out after 1s reading /nfs" in v.text
    v = evaluate_disks([ROOT], [stuck], DiskThresholds())
    assert v.state is State.UNKNOWN


# --- process ---------------------------------------------------------------------------------------


def proc(pid: int, cpu: float = 1.0, rss: int = 1000, created: float = 1000.0) -> ProcInfo:
    return ProcInfo(pid, created, "nginx", f"nginx: worker {pid}", cpu, rss)


@pytest.mark.parametrize(
    ("procs", "thresholds", "state", "words"),
    [
        pytest.param(
            [proc(1), proc(2)], ProcessThresholds(), State.OK, "2 processes matching name 'nginx'", id="found"
        ),
        pytest.param(
            [], ProcessThresholds(), State.CRITICAL, "no process matching name 'nginx'", id="none-default"
        ),
        pytest.param(
            [proc(1)],
            ProcessThresholds(count=Thresholds(crit="2:")),
            State.CRITICAL,
            "1 processes matching name 'nginx' (critical 2:)",
            id="too-few",
        ),
        pytest.param(
            [proc(1, rss=3000), proc(2, rss=3000)],
            ProcessThresholds(rss=Thresholds("5000")),
            State.WARNING,
            "rss 5.9 KiB (warning 5000)",
            id="rss-total",
        ),
        pytest.param(
            [], ProcessThresholds(count=Thresholds(crit="0")), State.OK, "0 processes", id="must-be-absent"
        ),
    ],
)
def test_evaluate_processes(
    procs: list[ProcInfo], thresholds: ProcessThresholds, state: State, words: str
) -> None:
    """Count within range (default 1:), totals of CPU and RSS against optional ranges."""
    v = evaluate_processes(procs, 0.0, Matcher(name="nginx"), thresholds)
    assert v.state is state
    assert words in v.text
    assert list(perf(v.perfdata)) == ["count", "cpu_pct", "rss"]


@pytest.mark.parametrize(
    ("prev", "interval", "now", "expected"),
    [
        pytest.param({(1, 1000.0): 0.5}, 2.0, 5000.0, 25.0, id="delta-over-interval"),
        pytest.param({}, 2.0, 1004.0, 25.0, id="new-process-over-its-lifetime"),
        pytest.param({(1, 999.0): 0.0}, 2.0, 1004.0, 25.0, id="recycled-pid-is-new"),
    ],
)
def test_process_cpu_percent(
    prev: dict[tuple[int, float], float], interval: float, now: float, expected: float
) -> None:
    """CPU % of one core from CPU-time deltas; a pid seen with another start time is another process."""
    assert cpu_percent([proc(1, cpu=1.0)], prev, interval, now) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("matcher", "name", "cmdline", "user", "hit"),
    [
        pytest.param(Matcher(name="sshd"), "sshd", "/usr/sbin/sshd -D", "root", True, id="name"),
        pytest.param(Matcher(name="ssh"), "sshd", "/usr/sbin/sshd -D", "root", False, id="name-is-exact"),
        pytest.param(
            Matcher(cmdline=__import__("re").compile(r"-D$")),
            "sshd",
            "/usr/sbin/sshd -D",
            "root",
            True,
            id="cmdline-regex",
        ),
        pytest.param(Matcher(name="sshd", user="www"), "sshd", "sshd", "root", False, id="all-must-match"),
    ],
)
def test_matcher(matcher: Matcher, name: str, cmdline: str, user: str, hit: bool) -> None:
    """Every given criterion must match."""
    assert matcher.matches(name, cmdline, user) is hit


# --- uptime and reboot -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uptime", "state", "words"),
    [
        pytest.param(86400 * 3 + 3600, State.OK, "up 3 d 1 h", id="long-up"),
        pytest.param(125, State.WARNING, "rebooted 2 min 5 s ago", id="recent-reboot"),
    ],
)
def test_evaluate_uptime(uptime: float, state: State, words: str) -> None:
    """`warning: 600:` warns while the host has been up for less than ten minutes."""
    v = evaluate_uptime(uptime, Thresholds("600:"))
    assert v.state is state
    assert words in v.text


def test_reboot_required_lists_packages() -> None:
    """The flag's age and the packages that asked for the reboot are reported."""
    v = evaluate_reboot(RebootFlag(True, 7200, ("linux-image-amd64", "libc6")), State.WARNING)
    assert v.state is State.WARNING
    assert v.text == "reboot required since 2 h 0 min (2 packages: linux-image-amd64, libc6)"
    assert perf(v.perfdata) == {"reboot_required": 1, "age": 7200}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (59, "59 s"), (61, "1 min 1 s"), (3661, "1 h 1 min"), (90000, "1 d 1 h")],
)
def test_human_duration(seconds: float, text: str) -> None:
    """Durations read like an operator would say them."""
    assert human_duration(seconds) == text


# --- shared helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * GiB, "5.0 GiB"), (3 << 40, "3.0 TiB")],
)
def test_human_bytes(n: int, text: str) -> None:
    """Binary units, as df -h prints them."""
    assert human_bytes(n) == text


def test_judge_and_finish_render_nagios_style() -> None:
    """`KIND STATE - text`, perfdata with the range texts, `|` never leaks into the summary."""
    fig = Figure("used_pct", 91.23456789, "/a|b 91.2% used", "%", Thresholds("80", "90"), 0, 100)
    result = finish("disk", "DISK", judge([fig], "fine"), started_at=1700000000.0, duration_s=0.5)
    assert result.summary == "DISK CRITICAL - /a/b 91.2% used (critical 90)"
    assert result.perfdata == (PerfDatum("used_pct", 91.234568, "%", "80", "90", 0, 100),)
    assert result.started_at == 1700000000.0
    assert result.duration_s == 0.5
