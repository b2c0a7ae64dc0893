"""Which config a CLI command uses without --config (watchd.cli.locate): the rule, table-driven, and
the README's case with real processes: `watchd run` in one terminal, `watchd status` in another."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchd import config
from watchd.cli import locate

REPO = Path(__file__).resolve().parent.parent


def write(path: Path, text: str = "checks: {}\n") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("explicit", "env", "running", "system", "checkout", "expected"),
    [
        pytest.param("x.yaml", {"WATCHD_CONFIG": "env.yaml"}, True, True, True, ("x.yaml", "--config"),
                     id="flag-first"),
        pytest.param(None, {"WATCHD_CONFIG": "env.yaml"}, True, True, True, ("env.yaml", "WATCHD_CONFIG"),
                     id="env-second"),
        pytest.param(None, {}, True, True, True, ("daemon.yaml", "running watchd"), id="running-daemon"),
        pytest.param(None, {"WATCHD_CONFIG": ""}, False, True, True, ("etc.yaml", "system"),
                     id="system-config"),
        pytest.param(None, {}, False, False, True, ("checkout.yaml", "checkout"), id="checkout-last"),
    ],
)  # fmt: skip
def test_the_rule_in_order(
    tmp_path: Path,
    explicit: str | None,
    env: dict[str, str],
    running: bool,
    system: bool,
    checkout: bool,
    expected: tuple[str, str],
) -> None:
    """--config, then $WATCHD_CONFIG, the running daemon's config, /etc/watchd, the checkout's."""
    state = tmp_path / "state"
    daemon_cfg = write(tmp_path / "daemon.yaml")
    etc = write(tmp_path / "etc.yaml") if system else str(tmp_path / "etc.yaml")
    repo = write(tmp_path / "checkout.yaml") if checkout else str(tmp_path / "checkout.yaml")
    marker = locate.daemon_marker(str(state), daemon_cfg) if running else None
    if marker is not None:
        marker.__enter__()
    try:
        found = locate.find_config(explicit, env, str(state), system=etc, checkout=repo)
    finally:
        if marker is not None:
            marker.__exit__(None, None, None)
    assert os.path.basename(found.path) == expected[0]
    assert expected[1] in found.how


def test_nothing_found_names_every_place(tmp_path: Path) -> None:
    """With no rule matching, the error lists each place in order and why it was not used."""
    with pytest.raises(locate.NoConfig) as info:
        locate.find_config(None, {}, str(tmp_path / "state"), str(tmp_path / "etc.yaml"), None)
    assert [place for place, _ in info.value.looked] == [
        "--config FILE",
        "$WATCHD_CONFIG",
        f"a running watchd ({tmp_path / 'state' / 'daemon.json'})",
        str(tmp_path / "etc.yaml"),
        "config/watchd.yaml of a source checkout",
    ]
    assert "etc.yaml: does not exist" in str(info.value)
    assert "give --config FILE or set WATCHD_CONFIG" in str(info.value)


def test_a_killed_daemons_marker_is_not_taken_for_a_live_one(tmp_path: Path) -> None:
    """The marker counts only while locked: a file left behind (kill -9) is ignored."""
    (tmp_path / "daemon.json").write_text('{"pid": 1, "config": "/etc/hosts"}\n')
    assert locate.running_daemon(str(tmp_path)) is None
    with locate.daemon_marker(str(tmp_path), "cfg.yaml"):
        assert locate.running_daemon(str(tmp_path)) == (os.getpid(), os.path.abspath("cfg.yaml"))
        refused = pytest.raises(locate.AlreadyRunning, match=r"already running on .* \(pid \d+, config ")
        with refused, locate.daemon_marker(str(tmp_path), "other.yaml"):
            pass
    assert not (tmp_path / "daemon.json").exists()


def test_checkout_config_is_this_repositorys() -> None:
    """Run from a source checkout, the last rule names its config/watchd.yaml; elsewhere none."""
    assert locate.checkout_config() == str(REPO / "config" / "watchd.yaml")
    assert locate.checkout_config("/usr/lib/python3/dist-packages/watchd/cli/locate.py") is None


@pytest.mark.parametrize(
    ("env", "euid", "expected"),
    [
        pytest.param({"STATE_DIRECTORY": "/var/lib/watchd:/x"}, 0, "/var/lib/watchd", id="systemd"),
        pytest.param({}, 0, "/var/lib/watchd", id="root"),
        pytest.param({"HOME": "/home/ann"}, 1000, "/home/ann/.local/state/watchd", id="user"),
        pytest.param({"HOME": "/home/ann", "XDG_STATE_HOME": "/x"}, 1000, "/x/watchd", id="xdg"),
    ],
)
def test_shipped_config_store_for_root_and_users(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], euid: int, expected: str
) -> None:
    """config/watchd.yaml sets no data_dir: its store is where the CLI run by the same user looks."""
    for name in ("STATE_DIRECTORY", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    cfg = config.load(str(REPO / "config" / "watchd.yaml"))
    assert cfg.data_dir == expected == config.default_data_dir()


# -- real processes ---------------------------------------------------------------------------------


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A user's environment with its own state directory, and no WATCHD_CONFIG."""
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHD_CONFIG", "XDG_STATE_HOME")}
    env.update(STATE_DIRECTORY=str(tmp_path / "state"), HOME=str(tmp_path / "home"))
    return env


def watchd(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchd", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def daemon(tmp_path: Path, user_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`watchd run --config ...` (no data_dir: the default state directory), as scripts/run starts it."""
    cfg = write(
        tmp_path / "conf" / "watchd.yaml",
        "host: web01\ntimezone: UTC\napi: {enabled: false}\nlog: {level: warning, format: json}\n"
        "checks:\n  alive: {command: [/bin/true], interval: 1s}\n"
        "  broken: {command: [/bin/sh, -c, 'echo DOWN; exit 2'], interval: 1s, max_attempts: 1}\n",
    )
    log = open(tmp_path / "daemon.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "watchd", "run", "--config", cfg],
        env=user_env, cwd=tmp_path, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        log.close()


def wait_for(cond, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_status_and_incidents_find_the_running_daemon(
    tmp_path: Path, user_env: dict[str, str], daemon: subprocess.Popen[bytes]
) -> None:
    """Without --config, from another directory, commands read the running daemon's config and store;
    a second `watchd run` on the same store is refused; once it stops, the next rule applies."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state = user_env["STATE_DIRECTORY"]
    wait_for(lambda: locate.running_daemon(state) is not None, "the daemon's marker")

    def both_ran() -> bool:  # first runs are jittered: wait for each check's first result
        rows = {tuple(line.split()[:3]) for line in watchd(user_env, elsewhere, "status").stdout.splitlines()}
        return {("alive", "OK", "HARD"), ("broken", "CRITICAL", "HARD")} <= rows

    wait_for(both_ran, "`watchd status` to show both checks' first results")
    status = watchd(user_env, elsewhere, "status")
    assert status.returncode == 2, status.stderr  # the worst hard state: CRITICAL
    assert [line.split()[0] for line in status.stdout.splitlines()] == ["alive", "broken"]
    wait_for(lambda: "broken" in watchd(user_env, elsewhere, "incidents", "list").stdout, "the incident")
    listed = watchd(user_env, elsewhere, "incidents", "list")
    assert listed.returncode == 0, listed.stderr
    assert " UTC " in listed.stdout.splitlines()[0]  # the configured display zone, named
    validate = watchd(user_env, elsewhere, "validate")
    assert validate.returncode == 0, validate.stderr
    assert f"from {tmp_path / 'conf' / 'watchd.yaml'} (the running watchd's config (pid {daemon.pid}))" in (
        validate.stdout
    )
    second = watchd(user_env, elsewhere, "run")
    assert second.returncode == 1
    assert f"watchd is already running on {state} (pid {daemon.pid}" in second.stderr
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
    after = watchd(user_env, elsewhere, "validate")
    if not os.path.exists(locate.SYSTEM_CONFIG):
        assert f"from {REPO / 'config' / 'watchd.yaml'} (this source checkout's config)" in after.stdout


def test_no_state_yet_names_the_config_and_where_state_lives(
    tmp_path: Path, user_env: dict[str, str]
) -> None:
    """Before any daemon ran with it, a command says which config it used and where it looked."""
    cfg = write(tmp_path / "watchd.yaml", "checks: {}\n")
    proc = watchd(user_env, tmp_path, "incidents", "list", "--config", cfg)
    assert proc.returncode == 1
    assert f"no state yet ({user_env['STATE_DIRECTORY']}/watchd.db does not exist)" in proc.stderr
    assert f"is watchd running with {cfg}?" in proc.stderr
