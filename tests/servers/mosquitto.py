"""A hermetic mosquitto broker for tests (Debian `mosquitto`), on a free 127.0.0.1 port.

    with start_mosquitto(tmp_path) as broker:                       # anonymous
    with start_mosquitto(tmp_path, users={"u": "pw"}, tls=True) as broker:   # password + TLS
        broker.port, broker.pki.ca (TLS), broker.stop(); broker.start()  # restart on the same port

The broker runs in the foreground as our child (`persistence false`, `log_dest stderr` into
`workdir/mosquitto.log`), so nothing outlives the context. As root it would drop to user mosquitto and
then fail to read files in a 0700 temp dir, hence `user root` (docs: shared/notes/real-servers.md).
TLS material comes from the openssl CLI: a throwaway CA and a server certificate for 127.0.0.1 and
localhost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


class MosquittoUnavailable(RuntimeError):
    """mosquitto (or openssl, for TLS) is not installed: tests skip with this message."""


def available() -> str | None:
    """None when a broker can be started here, else why not."""
    if not os.path.exists(MOSQUITTO):
        return "mosquitto is not installed (apt-get install mosquitto mosquitto-clients)"
    if not os.path.exists(MOSQUITTO_PASSWD):
        return "mosquitto_passwd is missing (apt-get install mosquitto)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class BrokerPki:
    ca: Path
    cert: Path
    key: Path


def make_pki(d: Path) -> BrokerPki:
    """A CA and a server certificate (SAN 127.0.0.1, localhost), EC P-256, valid two days."""
    d.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "2",
            "-subj", "/CN=watchd test CA")  # fmt: skip
    openssl("req", *ec, "-keyout", d / "server.key", "-out", d / "server.csr", "-subj", "/CN=localhost")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
            "-CAcreateserial", "-out", d / "server.pem", "-days", "2", "-extfile", d / "san.ext")  # fmt: skip
    return BrokerPki(d / "ca.pem", d / "server.pem", d / "server.key")


@dataclass
class Mosquitto:
    workdir: Path
    port: int
    users: Mapping[str, str] = field(default_factory=dict)
    pki: BrokerPki | None = None
    extra: str = ""  # more config lines for the listener
    proc: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"

    @property
    def log(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_config(self) -> Path:
        lines = []
        if os.geteuid() == 0:
            lines.append("user root")
        lines += ["per_listener_settings true", "persistence false", "log_dest stderr"]
        lines += [f"log_type {t}" for t in ("error", "warning", "notice", "information")]
        lines.append(f"listener {self.port} 127.0.0.1")
        if self.users:
            pw = self.workdir / "passwd"
            pw.unlink(missing_ok=True)
            for i, (user, password) in enumerate(self.users.items()):
                flags = ["-c", "-b"] if i == 0 else ["-b"]
                subprocess.run([MOSQUITTO_PASSWD, *flags, str(pw), user, password], check=True,
                               capture_output=True)  # fmt: skip
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.pki is not None:
            lines += [f"cafile {self.pki.ca}", f"certfile {self.pki.cert}", f"keyfile {self.pki.key}"]
        if self.extra:
            lines.append(self.extra)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart) on the same port; returns once it accepts connections."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        conf = self.write_config()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}:\n{self.log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.port} in {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@contextlib.contextmanager
def start_mosquitto(
    workdir: Path, *, users: Mapping[str, str] | None = None, tls: bool = False, extra: str = ""
) -> Iterator[Mosquitto]:
    why = available()
    if why is not None:
        raise MosquittoUnavailable(why)
    workdir.mkdir(parents=True, exist_ok=True)
    pki = make_pki(workdir / "pki") if tls else None
    broker = Mosquitto(workdir, free_port(), dict(users or {}), pki, extra)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
