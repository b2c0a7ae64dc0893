"""A hermetic Redmine 5 for tests (Debian's `redmine`, SQLite, the `thin` app server).

What it costs, measured on this machine (Debian 12, 2 cores):
- Install (`ensure_installed`, once per machine): about 15 s when Ruby is already there (about 110
  packages), about 60 s on a fresh machine (+ about 300 packages, +250 MB). `BUNDLER_VERSION=2.3.15`
  must be in the environment of every apt run that installs or triggers the package (a newer
  bundler in libruby shadows Debian's and the postinst fails); `dbconfig-no-thanks` stops the
  package from building a database of its own.
- Instance (`start_redmine`): `rake db:migrate` about 4.5 s, one `rails runner` for the default data,
  settings, user, project and custom fields about 3.5 s, `thin` ready in about 4.5 s: about 13 s.
- RAM: one thin process, about 160 MB RSS.

Hermetic: Debian's Redmine keeps an instance's config, database, files, logs and tmp under
`/usr/share/redmine/instances/$REDMINE_INSTANCE` (a symlink to /var/lib/redmine). The instance name
here is a relative path (`../` up to `/`, then the test's workdir), so everything lives in
the workdir and nothing outside it is written after the install.

Set up for watchd: the REST API switched on (when off, Redmine answers every API call as the
anonymous user), admin's must-change-password flag cleared, project `hosting` (trackers Bug,
Feature, Support), issue custom fields `WatchdKey` (filterable) and `WatchdLastOp`, a second user
`agent` (a Manager of the project, its own API key) to play the person in the ticket system.

    with start_redmine(tmp_path) as rm:
        requests to f"{rm.url}/issues.json" with header X-Redmine-API-Key: rm.api_key
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("redmine", "redmine-sqlite", "thin", "dbconfig-no-thanks")
REDMINE = Path("/usr/share/redmine")
THIN = "/usr/bin/thin"
BUNDLER_ENV = {"BUNDLER_VERSION": "2.3.15"}
PRESEED = "redmine redmine/instances/default/dbconfig-install boolean false\n"

SETUP_RB = """\
Redmine::DefaultData::Loader.load('en') if Redmine::DefaultData::Loader.no_data?
Setting.rest_api_enabled = '1'
Setting.default_language = 'en'
Setting.mail_from = 'redmine@watchd.test'
admin = User.find_by_login('admin')
admin.must_change_passwd = false
admin.password = admin.password_confirmation = 'watchd-test-admin'
admin.save!
project = Project.create!(name: 'Hosting', identifier: 'hosting', is_public: false,
  tracker_ids: Tracker.pluck(:id), enabled_module_names: %w[issue_tracking])
key = IssueCustomField.create!(name: 'WatchdKey', field_format: 'string', is_for_all: true,
  is_filter: true, searchable: true, tracker_ids: Tracker.pluck(:id), visible: true)
last = IssueCustomField.create!(name: 'WatchdLastOp', field_format: 'string', is_for_all: true,
  tracker_ids: Tracker.pluck(:id), visible: true)
agent = User.new(firstname: 'Alice', lastname: 'Agent', mail: 'alice@watchd.test')
agent.login = 'agent'
agent.password = agent.password_confirmation = 'watchd-test-agent'
agent.must_change_passwd = false
agent.save!
Member.create!(project: project, principal: agent, role_ids: [Role.find_by_name('Manager').id])
puts JSON.generate(api_key: admin.api_key, agent_key: agent.api_key, agent_id: agent.id,
  key_field_id: key.id, last_op_field_id: last.id)
"""


class RedmineUnavailable(RuntimeError):
    """Redmine cannot be installed or started here; the message says why (tests skip with it)."""


@dataclass(frozen=True, slots=True)
class RedmineServer:
    url: str
    api_key: str
    api_key_file: Path
    agent_key: str  # the `agent` user's key: a person acting in Redmine
    agent_id: int
    key_field_id: int
    last_op_field_id: int
    workdir: Path
    pid: int

    def call(self, method: str, path: str, body: object = None, key: str | None = None) -> object:
        """One REST call (as admin unless `key`); the decoded JSON, or None for an empty answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"X-Redmine-API-Key": key or self.api_key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=15) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def issues(self, key: str) -> list[dict[str, object]]:
        """Every issue (any status) whose WatchdKey is exactly `key`, oldest first."""
        found = self.call(
            "GET",
            f"/issues.json?project_id=hosting&status_id=*&sort=id&limit=100"
            f"&cf_{self.key_field_id}={urllib.request.quote(key)}",
        )
        assert isinstance(found, dict)
        return [
            i
            for i in found["issues"]
            if any(cf["id"] == self.key_field_id and cf.get("value") == key for cf in i["custom_fields"])
        ]

    def journals(self, issue_id: object) -> list[dict[str, object]]:
        got = self.call("GET", f"/issues/{issue_id}.json?include=journals")
        assert isinstance(got, dict)
        return list(got["issue"]["journals"])

    def rss_mb(self) -> float:
        """The app server's resident memory, MB (from /proc)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(match.group(1)) / 1024 if match else 0.0


def _dpkg_ok(package: str) -> bool:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return False
    return "install ok installed" in out


def is_installed() -> bool:
    return (REDMINE / "config.ru").exists() and os.path.exists(THIN) and _dpkg_ok("redmine-sqlite")


def ensure_installed(timeout: float = 900.0) -> None:
    """Install Redmine from Debian when missing; RedmineUnavailable when that is not possible."""
    if is_installed():
        return
    if os.geteuid() != 0:
        raise RedmineUnavailable(
            f"Redmine is not installed and this is not root: apt-get install {' '.join(PACKAGES)}"
        )
    if shutil.which("apt-get") is None:
        raise RedmineUnavailable("Redmine is not installed and there is no apt-get here")
    env = {**os.environ, **BUNDLER_ENV, "DEBIAN_FRONTEND": "noninteractive"}
    steps: list[tuple[list[str], str | None]] = [
        (["debconf-set-selections"], PRESEED),
        (["apt-get", "update", "-qq"], None),
        (["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], None),
    ]
    for argv, stdin in steps:
        try:
            proc = subprocess.run(
                argv, input=stdin, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RedmineUnavailable(f"{' '.join(argv)} failed: {exc}") from None
        if proc.returncode != 0:
            raise RedmineUnavailable(
                f"{' '.join(argv)} exited {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}"
            )
    if not is_installed():
        raise RedmineUnavailable("apt-get install succeeded but Redmine's files are not where expected")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _instance(workdir: Path) -> dict[str, str]:
    """The environment that points Debian's Redmine at an instance living in `workdir`."""
    for sub in ("config", "tmp/cache", "log", "files", "public/plugin_assets"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "database.yml").write_text(
        f"production:\n  adapter: sqlite3\n  database: {workdir / 'redmine.sqlite3'}\n  timeout: 5000\n"
    )
    (workdir / "config" / "secret_key.txt").write_text(secrets.token_hex(32) + "\n")
    (workdir / "config" / "configuration.yml").write_text(
        "production:\n  email_delivery:\n    delivery_method: :test\n"
    )
    # enough `..` to reach / both lexically (Rails expands the path) and through the symlink
    depth = max(len((REDMINE / "instances").parts), len((REDMINE / "instances").resolve().parts))
    up = "../" * depth
    return {
        **os.environ,
        **BUNDLER_ENV,
        "RAILS_ENV": "production",
        "REDMINE_INSTANCE": up.rstrip("/") + str(workdir),
    }


def _run(argv: list[str], env: dict[str, str], log: Path) -> str:
    try:
        proc = subprocess.run(
            argv, env=env, cwd=REDMINE, capture_output=True, text=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RedmineUnavailable(f"{' '.join(argv)} failed: {exc}") from None
    with log.open("a") as f:
        f.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RedmineUnavailable(
            f"{' '.join(argv)} exited {proc.returncode}: {(proc.stderr + proc.stdout)[-1500:]}"
        )
    return proc.stdout


@contextlib.contextmanager
def start_redmine(workdir: Path, startup_timeout: float = 90.0) -> Iterator[RedmineServer]:
    """Build an instance in `workdir`, run thin on a free 127.0.0.1 port, yield it, stop it."""
    workdir = workdir.resolve()
    env = _instance(workdir)
    setup_log = workdir / "setup.log"
    _run(["rake", "db:migrate"], env, setup_log)
    script = workdir / "setup.rb"
    script.write_text(SETUP_RB)
    out = _run([str(REDMINE / "bin" / "rails"), "runner", str(script)], env, setup_log)
    try:
        facts = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RedmineUnavailable(f"the setup script printed no facts: {out[-500:]}") from None
    key_file = workdir / "api-key"
    key_file.write_text(facts["api_key"] + "\n")
    key_file.chmod(0o600)
    port = free_port()
    server_log = workdir / "thin.log"
    with open(server_log, "wb") as log:
        proc = subprocess.Popen(
            [THIN, "start", "-R", "config.ru", "-a", "127.0.0.1", "-p", str(port), "-e", "production"],
            env=env,
            cwd=REDMINE,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        server = RedmineServer(
            url=f"http://127.0.0.1:{port}",
            api_key=facts["api_key"],
            api_key_file=key_file,
            agent_key=facts["agent_key"],
            agent_id=int(facts["agent_id"]),
            key_field_id=int(facts["key_field_id"]),
            last_op_field_id=int(facts["last_op_field_id"]),
            workdir=workdir,
            pid=proc.pid,
        )
        _wait_ready(server, proc, server_log, startup_timeout)
        yield server
    finally:
        _stop(proc)


def _wait_ready(server: RedmineServer, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        f"{server.url}/users/current.json", headers={"X-Redmine-API-Key": server.api_key}
    )
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RedmineUnavailable(f"thin exited {proc.returncode}: {log.read_text()[-1500:]}")
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RedmineUnavailable(f"Redmine not ready after {timeout:g}s ({last}): {log.read_text()[-1500:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
