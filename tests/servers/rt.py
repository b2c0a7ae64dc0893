"""A hermetic Request Tracker 5 instance for tests (Debian packages, SQLite, `rt-server`).

`ensure_installed()` installs RT from Debian once per machine (about 50 s; preseeded so the package
builds no database of its own); `start_rt(workdir)` builds an instance in `workdir` (its own
RT_SiteConfig.pm, SQLite file, custom fields applied to queue General, a root password and an auth
token) and runs `rt-server` on a free 127.0.0.1 port until the context exits. Nothing outside
`workdir` is touched after the install, and the server dies with the context.

    with start_rt(tmp_path) as rt:
        requests to f"{rt.url}/REST/2.0/..." with basic auth (rt.username, rt.password)
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("request-tracker5", "rt5-db-sqlite", "rt5-standalone", "dbconfig-no-thanks")
RT_LIB = "/usr/share/request-tracker5/lib"
RT_SERVER = "/usr/share/request-tracker5/libexec/rt-server"
RT_SETUP_DATABASE = "/usr/sbin/rt-setup-database-5"

# debconf answers: without dbconfig-no-thanks the package ignores these and builds its own database.
PRESEED = """\
rt5-db-sqlite rt5-db-sqlite/available boolean true
request-tracker5 request-tracker5/dbconfig-install boolean false
request-tracker5 request-tracker5/rtname string watchd-test
request-tracker5 request-tracker5/organization string watchd.test
request-tracker5 request-tracker5/correspondaddress string rt@watchd.test
request-tracker5 request-tracker5/commentaddress string rt-comment@watchd.test
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1
request-tracker5 request-tracker5/install-cronjobs boolean false
"""

DEFAULT_CUSTOM_FIELDS = ("WatchdKey", "WatchdLastOp", "WatchdPriority", "WatchdHost", "WatchdCheck")
ROOT_PASSWORD = "watchd-test-root"


@dataclass(frozen=True, slots=True)
class RTUser:
    """A privileged user created with the instance, holding only `rights` (granted system-wide)."""

    name: str
    password: str
    rights: tuple[str, ...]


class RTUnavailable(RuntimeError):
    """RT cannot be installed or started here; the message says why (tests skip with it)."""


@dataclass(frozen=True, slots=True)
class RTServer:
    url: str  # base URL without a trailing slash, e.g. http://127.0.0.1:40123
    username: str
    password: str
    password_file: Path
    token: str
    token_file: Path
    mail_log: Path  # every mail RT sends is appended here
    workdir: Path

    @property
    def rest(self) -> str:
        return f"{self.url}/REST/2.0"

    def basic_auth(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def is_installed() -> bool:
    return all(os.path.exists(p) for p in (RT_SERVER, RT_SETUP_DATABASE, f"{RT_LIB}/RT.pm")) and _dpkg_ok(
        "rt5-db-sqlite"
    )


def ensure_installed(timeout: float = 900.0) -> None:
    """Install RT from Debian when missing; RTUnavailable when that is not possible."""
    if is_installed():
        return
    if os.geteuid() != 0:
        raise RTUnavailable(
            f"Request Tracker is not installed and this is not root: apt-get install {' '.join(PACKAGES)}"
        )
    if shutil.which("apt-get") is None:
        raise RTUnavailable("Request Tracker is not installed and there is no apt-get here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps: list[tuple[Sequence[str], str | None]] = [
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
            raise RTUnavailable(f"{' '.join(argv)} failed: {exc}") from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-1500:]
            raise RTUnavailable(f"{' '.join(argv)} exited {proc.returncode}: {tail}")
    if not is_installed():
        raise RTUnavailable("apt-get install succeeded but RT's files are not where expected")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def start_rt(
    workdir: Path,
    custom_fields: Sequence[str] = DEFAULT_CUSTOM_FIELDS,
    users: Sequence[RTUser] = (),
    startup_timeout: float = 60.0,
) -> Iterator[RTServer]:
    """Build an instance in `workdir`, run rt-server, yield it, and stop it (SIGTERM, then SIGKILL)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _instance_env(workdir, port, url)
    _init_database(workdir, env, custom_fields, users)
    token = _mint_token(workdir, env)
    server_log = workdir / "rt-server.log"
    with open(server_log, "wb") as log:
        proc = subprocess.Popen(
            [RT_SERVER, "--host", "127.0.0.1", "--port", str(port), "--max-workers", "2"],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers go down with the master
        )
    try:
        server = RTServer(
            url=url,
            username="root",
            password=ROOT_PASSWORD,
            password_file=workdir / "root-password",
            token=token,
            token_file=workdir / "token",
            mail_log=workdir / "mail.log",
            workdir=workdir,
        )
        _wait_ready(server, proc, server_log, startup_timeout)
        yield server
    finally:
        _stop(proc)


def _dpkg_ok(package: str) -> bool:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return False
    return "install ok installed" in out


def _instance_env(workdir: Path, port: int, url: str) -> dict[str, str]:
    sendmail = workdir / "sendmail"
    sendmail.write_text(
        f'#!/bin/sh\n{{ echo "From watchd-test $*"; cat; echo; }} >> {workdir / "mail.log"}\n'
    )
    sendmail.chmod(0o755)
    site_dir = workdir / "RT_SiteConfig.d"
    site_dir.mkdir(exist_ok=True)
    (workdir / "var").mkdir(exist_ok=True)
    (workdir / "RT_SiteConfig.pm").write_text(
        textwrap.dedent(f"""\
            Set($rtname, 'watchd-test');
            Set($Organization, 'watchd.test');
            Set($CorrespondAddress, 'rt@watchd.test');
            Set($CommentAddress, 'rt-comment@watchd.test');
            Set($DatabaseType, 'SQLite');
            Set($DatabaseName, '{workdir / "rt.sqlite"}');
            Set($WebDomain, '127.0.0.1');
            Set($WebPort, {port});
            Set($WebPath, '');
            Set($WebBaseURL, '{url}');
            Set($MailCommand, 'sendmailpipe');
            Set($SendmailPath, '{sendmail}');
            Set($LogToSTDERR, 'warning');
            Set($LogToSyslog, undef);
            Set($LogToFile, undef);
            Set($BcryptCost, 4);
            1;
            """)
    )
    return {
        **os.environ,
        "RT_SITE_CONFIG": str(workdir / "RT_SiteConfig.pm"),
        "RT_SITE_CONFIG_DIR": str(site_dir),
        "PERL5LIB": RT_LIB,
    }


def _init_database(
    workdir: Path, env: dict[str, str], custom_fields: Sequence[str], users: Sequence[RTUser]
) -> None:
    password_file = workdir / "root-password"
    password_file.write_text(ROOT_PASSWORD + "\n")
    password_file.chmod(0o600)
    fields = "".join(
        f"    {{ Name => '{name}', Type => 'FreeformSingle', LookupType => 'RT::Queue-RT::Ticket',"
        f" ApplyTo => 'General', Description => 'watchd test field' }},\n"
        for name in custom_fields
    )
    datafile = workdir / "initialdata.pl"
    people = "".join(
        f"    {{ Name => {_perl(u.name)}, Password => {_perl(u.password)}, Privileged => 1,"
        f" EmailAddress => {_perl(u.name + '@watchd.test')} }},\n"
        for u in users
    )
    acl = "".join(
        f"    {{ UserId => {_perl(u.name)}, Right => {_perl(right)} }},\n"
        for u in users
        for right in u.rights
    )
    datafile.write_text(f"@CustomFields = (\n{fields});\n@Users = (\n{people});\n@ACL = (\n{acl});\n1;\n")
    for args in (
        ["--action", "init", "--root-password-file", str(password_file)],
        ["--action", "insert", "--datafile", str(datafile)],
    ):
        _run([RT_SETUP_DATABASE, *args], env, workdir)


def _perl(text: str) -> str:
    """A single-quoted Perl string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _mint_token(workdir: Path, env: dict[str, str]) -> str:
    script = workdir / "mint-token.pl"
    script.write_text(
        textwrap.dedent("""\
            use strict; use warnings;
            use RT; RT::LoadConfig(); RT::Init();
            my $root = RT::User->new(RT->SystemUser); $root->Load('root');
            my $token = RT::AuthToken->new(RT->SystemUser);
            my ($id, $msg, $string) = $token->Create(Owner => $root->Id, Description => 'watchd tests');
            die "token: $msg\\n" unless $id;
            print $string;
            """)
    )
    token = _run(["perl", str(script)], env, workdir).strip()
    if not token:
        raise RTUnavailable("minting an RT auth token printed nothing")
    token_file = workdir / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    return token


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    try:
        proc = subprocess.run(
            argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RTUnavailable(f"{argv[0]} failed: {exc}") from None
    if proc.returncode != 0:
        raise RTUnavailable(
            f"{' '.join(argv)} exited {proc.returncode}: {(proc.stderr + proc.stdout)[-1500:]}"
        )
    return proc.stdout


def _wait_ready(server: RTServer, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        f"{server.rest}/queue/General", headers={"Authorization": server.basic_auth()}
    )
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RTUnavailable(f"rt-server exited {proc.returncode}: {log.read_text()[-1500:]}")
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
    raise RTUnavailable(f"rt-server not ready after {timeout:g}s ({last}): {log.read_text()[-1500:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    # workers that outlived the master are in its process group (and only ours are there)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
