"""A hermetic Icinga 2 (Debian `icinga2`, 2.13) for tests: its own config, state and run directories in a
temp dir, the REST API on a free 127.0.0.1 port with a throwaway CA, no systemd.

    with start_icinga2(tmp_path, objects=OBJECTS) as icinga:
        icinga.url, icinga.pki.ca, icinga.services(), icinga.stop(); icinga.start()  # same port, same state

Measured here (Debian 12, 2 cores): install `apt-get install --no-install-recommends icinga2` about 4 s
(8 packages, +32 MB); the API answers about 0.25 s after the start (0.5 s with making the test PKI),
a restart on the same state the same; SIGTERM to exit takes about 0.5 s.

Gotchas (each cost a failed start):
- Every compiled-in path must be moved: `-DDataDir -DCacheDir -DLogDir -DSpoolDir -DInitRunDir` (not
  `RunDir`: deprecated, it warns). The PID file goes to `InitRunDir/icinga2/icinga2.pid` and that
  directory (with `cmd/`) must exist, or the daemon aborts "Could not open PID file".
- As root it drops to user nagios and then cannot read a 0700 temp dir: ICINGA2_USER/ICINGA2_GROUP=root.
- The API's certificate is read from `DataDir/certs/<NodeName>.crt|.key` and `ca.crt`; the ApiListener's
  `cert_path`/`key_path`/`ca_path` still work in 2.13 but are deprecated (it copies the files there).
- `icinga2 daemon` forks: a launcher, the daemon and a process spawner. SIGTERM to the launcher stops
  them all; the fixture runs it in its own session and kills the group afterwards for good measure.
- Passive results need objects Icinga knows (404 "No objects found." otherwise): the test's objects
  are written into the config. In a service's `last_check_result` read `state`; `exit_status` there
  is the exit code of a process, 0 for a passive result.
- On a host where systemd is PID 1 the package starts the system's own instance on 5665; tests use
  their own port.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ICINGA2 = "/usr/lib/x86_64-linux-gnu/icinga2/sbin/icinga2"
NODE = "icinga-test"
ADMIN = ("root", "admin-pw")  # the fixture's own user, for reading back
WATCHD = ("watchd", "watchd-pw")  # what watchd uses: only what forwarding needs
CLIENT_CN = "watchd-client"  # the ApiUser authenticated by client certificate


class Icinga2Unavailable(RuntimeError):
    """icinga2 (or openssl) is not installed: tests skip with this message."""


def available() -> str | None:
    if not os.path.exists(ICINGA2) and not shutil.which("icinga2"):
        return "icinga2 is not installed (apt-get install --no-install-recommends icinga2)"
    if not shutil.which("openssl"):
        return "openssl is missing"
    return None


def binary() -> str:
    return ICINGA2 if os.path.exists(ICINGA2) else str(shutil.which("icinga2"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Pki:
    ca: Path
    node_cert: Path
    node_key: Path
    client_cert: Path  # CN watchd-client, signed by the same CA
    client_key: Path


def make_pki(d: Path) -> Pki:
    """A CA, the node's certificate (CN = NodeName, SAN 127.0.0.1 and localhost) and a client one."""
    d.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "ca.crt", "-days", "2",
            "-subj", "/CN=watchd test Icinga CA")  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn, ext in (("node", NODE, True), ("client", CLIENT_CN, False)):
        openssl("req", *ec, "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr", "-subj", f"/CN={cn}")
        extra = ("-extfile", d / "san.ext") if ext else ()
        openssl("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.crt", "-CAkey", d / "ca.key",
                "-CAcreateserial", "-out", d / f"{name}.crt", "-days", "2", *extra)  # fmt: skip
    return Pki(d / "ca.crt", d / "node.crt", d / "node.key", d / "client.crt", d / "client.key")


CONFIG = """\
include <itl>
const NodeName = "{node}"
const ZoneName = "{node}"
object Endpoint NodeName {{}}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {port}
  accept_config = false
  accept_commands = false
}}
object ApiUser "{admin}" {{ password = "{admin_pw}"; permissions = [ "*" ] }}
object ApiUser "{user}" {{
  password = "{user_pw}"
  permissions = [ "actions/process-check-result", "objects/query/Host", "objects/query/Service" ]
}}
object ApiUser "watchd-cert" {{
  client_cn = "{client_cn}"
  permissions = [ "actions/process-check-result" ]
}}
object CheckerComponent "checker" {{}}
{objects}
"""


@dataclass
class Icinga2:
    workdir: Path
    port: int
    pki: Pki
    objects: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "icinga2.log"

    def _dirs(self) -> dict[str, Path]:
        names = ("DataDir", "CacheDir", "LogDir", "SpoolDir", "InitRunDir")
        return {k: self.workdir / k.lower() for k in names}

    def write_config(self) -> Path:
        dirs = self._dirs()
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        (dirs["InitRunDir"] / "icinga2" / "cmd").mkdir(parents=True, exist_ok=True)
        certs = dirs["DataDir"] / "certs"
        certs.mkdir(exist_ok=True)
        shutil.copy(self.pki.node_cert, certs / f"{NODE}.crt")
        shutil.copy(self.pki.node_key, certs / f"{NODE}.key")
        shutil.copy(self.pki.ca, certs / "ca.crt")
        conf = self.workdir / "icinga2.conf"
        text = CONFIG.format(
            node=NODE, port=self.port, admin=ADMIN[0], admin_pw=ADMIN[1], user=WATCHD[0],
            user_pw=WATCHD[1], client_cn=CLIENT_CN, objects=self.objects,
        )  # fmt: skip
        conf.write_text(text)
        return conf

    def start(self, timeout: float = 30.0) -> None:
        """Start (or restart) on the same port and state; returns once the API answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        conf = self.write_config()
        defines = [f"-D{k}={v}" for k, v in self._dirs().items()]
        env = {**os.environ, "ICINGA2_USER": "root", "ICINGA2_GROUP": "root"} if os.geteuid() == 0 else None
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [binary(), "daemon", "-c", str(conf), *defines],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-3000:]
                raise RuntimeError(f"icinga2 exited with {self.proc.returncode}:\n{tail}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.request("GET", "/v1/status/IcingaApplication")
                return
            time.sleep(0.05)
        self.stop()
        tail = self.log.read_text()[-3000:]
        raise RuntimeError(f"icinga2 API did not answer on {self.port} in {timeout}s:\n{tail}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the spawner it forked, if it outlived the launcher

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def request(self, method: str, path: str, body: Any = None, user: tuple[str, str] = ADMIN) -> Any:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca))
        token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        req = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Accept": "application/json", "Authorization": f"Basic {token}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
            return json.loads(resp.read())

    def services(self) -> dict[str, dict[str, Any]]:
        """Every Service object by full name (`host!service`) with its attributes."""
        doc = self.request("GET", "/v1/objects/services")
        return {r["name"]: r["attrs"] for r in doc["results"]}

    def host(self, name: str) -> dict[str, Any]:
        doc = self.request("GET", f"/v1/objects/hosts/{name}")
        return dict(doc["results"][0]["attrs"])


@contextlib.contextmanager
def start_icinga2(workdir: Path, *, objects: str) -> Iterator[Icinga2]:
    why = available()
    if why is not None:
        raise Icinga2Unavailable(why)
    workdir.mkdir(parents=True, exist_ok=True)
    icinga = Icinga2(workdir, free_port(), make_pki(workdir / "pki"), objects)
    icinga.start()
    try:
        yield icinga
    finally:
        icinga.stop()
