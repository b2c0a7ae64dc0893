"""A hermetic RabbitMQ cluster with the MQTT plugin for tests (Debian `rabbitmq-server` 3.10.8), on loopback.

    with start_rabbitmq_cluster(tmp_path) as cluster:          # rabbit-a@localhost, rabbit-b@localhost
        cluster.brokers("a", "b")      # ["127.0.0.1:<mqtt port of a>", "127.0.0.1:<mqtt port of b>"]
        cluster.kill("a"); cluster.start("a")                  # kill -9 one node; boot it again
        cluster.running_nodes("b")     # what `rabbitmqctl cluster_status` says on node b

Every node is our child process (no systemd, no /var/lib/rabbitmq, no /etc/rabbitmq): its own
RABBITMQ_NODENAME, AMQP, distribution and MQTT ports (free ones, bound to 127.0.0.1), its Mnesia and log
directories under `workdir`, one shared HOME holding a random `.erlang.cookie`, and an epmd of our own
on a free port (ERL_EPMD_PORT), so nothing clashes with another test run or a system broker. Node a
boots on its own; every other node boots, then `stop_app`, `join_cluster rabbit-a@localhost`,
`start_app`; then `cluster_status` must list all of them running. Teardown kills every node and epmd.

Measured here (2 cores, Debian 12, erlang 25.2.3):
- install: `apt-get install --no-install-recommends rabbitmq-server` brings 21 packages (17 erlang-*,
  socat, logrotate, libpopt0), 33 MB of .debs; unpacking and configuring took 19 s, plus the download.
  Without systemd as PID 1 the package starts no broker; with it, a system one on 5672/25672/4369,
  which the free ports and the own epmd here stay clear of.
- start: two nodes booting in parallel answer on their MQTT ports after about 11 s. Most of it is
  Erlang/RabbitMQ boot on two busy cores; 3-6 s of it is the MQTT plugin of a fresh node waiting for
  cluster peers before it elects itself leader of its client-id tracker (a Ra cluster, `mqtt_node`).
- join: about 5 s for stop_app, join_cluster, start_app and cluster_status; each rabbitmqctl call
  costs 0.6-1 s of CLI start-up (an Erlang VM with Elixir). The whole two-node cluster: 14-18 s;
  three nodes: about 22 s.
- kill -9 of a node: its clients see the TCP connection close at once; the other node keeps serving.
- start() of a killed node: 104 s in a two-node cluster (below), 3.8 s in a three-node one.

Gotchas:
- /usr/sbin/rabbitmq-server is a wrapper that su's to user rabbitmq, cd's to /var/lib/rabbitmq and
  writes /var/log/rabbitmq/startup_log; /usr/lib/rabbitmq/bin/rabbitmq-server (used here) is the real
  script and runs fine as root. It is a /bin/sh that stays the parent of beam.smp, hence a process group
  per node (killpg) rather than killing the pid Popen knows.
- The distribution listener binds to every interface unless told (`-kernel inet_dist_use_interface`),
  and erl starts a system-wide `epmd -daemon` on 4369 unless one answers on ERL_EPMD_PORT: both are set.
- `rabbitmqctl` reads the cookie from $HOME/.erlang.cookie (mode 0400) and needs the same ERL_EPMD_PORT.
- **Restarting a killed node of a two-node cluster takes about 100 s.** The MQTT plugin's
  client-id tracker (Ra) needs a majority; with one of two nodes dead the survivor has no leader, and
  the returning node's plugin waits (START_TIMEOUT, 100 s) for that leader before it starts its own Ra
  member. Three nodes (`nodes=3`) keep a majority through one loss. While there is no leader, MQTT
  connects still work, but duplicate client ids are no longer detected.
- MQTT 5 is not spoken (3.1.1 and 3.1 only): a v5 CONNECT gets no CONNACK (the broker logs a frame
  parse error), so clients time out instead of falling back: configure 3.1.1.
- A QoS 1 subscription, even of a clean session, is a *durable* queue named after the client id
  (`mqtt-subscription-<id>qos1`) on the node it was made on. While that node is down, the same client
  id cannot subscribe at QoS 1 on any other node (NOT_FOUND, home node down; the connection is closed).
  QoS 0 queues are not durable and do not have this problem. Hence watchd's client id per broker.
- Retained messages stay on the node that took them and are handed out for exact topic filters
  only; a "." in a topic level becomes a level separator. Both are asserted in
  tests/bus/test_rabbitmq_cluster.py and described in docs/mqtt.md.
- `mqtt.allow_anonymous = true` logs clients in as guest, which RabbitMQ allows from loopback only
  (`loopback_users`): fine here, every client is on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from servers.mosquitto import free_port

SBIN = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_SERVER = SBIN / "rabbitmq-server"
RABBITMQCTL = SBIN / "rabbitmqctl"
EPMD = Path("/usr/bin/epmd")
PLUGINS = Path("/usr/lib/rabbitmq/lib")
NO_EPMD = "-start_epmd false"  # ours runs on ERL_EPMD_PORT; never a system-wide one
INSTALL = "apt-get install rabbitmq-server (scripts/bootstrap --test)"


class RabbitUnavailable(RuntimeError):
    """rabbitmq-server (with its MQTT plugin) is not installed: tests skip with this message."""


def available() -> str | None:
    """None when a cluster can be started here, else why not."""
    if not RABBITMQ_SERVER.exists() or not RABBITMQCTL.exists():
        return f"rabbitmq-server is not installed ({INSTALL})"
    if not list(PLUGINS.glob("rabbitmq_server-*/plugins/rabbitmq_mqtt-*")):
        return f"the RabbitMQ MQTT plugin is missing ({INSTALL})"
    if not EPMD.exists():
        return f"epmd is missing (erlang-base; {INSTALL})"
    return None


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@dataclass
class RabbitNode:
    name: str  # "a"
    workdir: Path
    amqp_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def nodename(self) -> str:
        return f"rabbit-{self.name}@localhost"

    @property
    def broker(self) -> str:
        return f"127.0.0.1:{self.mqtt_port}"

    @property
    def log(self) -> Path:
        return self.workdir / "log" / f"{self.nodename}.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
            f"mqtt.listeners.tcp.1 = 127.0.0.1:{self.mqtt_port}\n"
            "mqtt.allow_anonymous = true\n"
            "log.console = false\n"
            "log.file.level = info\n"
        )
        (self.workdir / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        (self.workdir / "rabbitmq-env.conf").write_text("")  # instead of /etc/rabbitmq/rabbitmq-env.conf

    def env(self, base: dict[str, str]) -> dict[str, str]:
        d = self.workdir
        return {
            **base,
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),  # absent: none
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": f"-kernel inet_dist_use_interface {{127,0,0,1}} {NO_EPMD}",
            "ERL_CRASH_DUMP": str(d / "erl_crash.dump"),
        }


class RabbitCluster:
    def __init__(self, workdir: Path, names: list[str]) -> None:
        self.workdir = workdir
        self.nodes = {n: RabbitNode(n, workdir / f"rabbit-{n}") for n in names}
        self.epmd_port = free_port()
        self.epmd: subprocess.Popen[bytes] | None = None
        home = workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        # Our variables only: nothing from a RABBITMQ_* or ERL_* in the caller's environment leaks in.
        base = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        self.base_env = {**base, "HOME": str(home), "ERL_EPMD_PORT": str(self.epmd_port),
                         "ERL_EPMD_ADDRESS": "127.0.0.1", "LC_ALL": "C.UTF-8"}  # fmt: skip

    def __getitem__(self, name: str) -> RabbitNode:
        return self.nodes[name]

    def brokers(self, *names: str) -> list[str]:
        """`host:port` of the nodes' MQTT listeners, in the order given (all nodes if none)."""
        return [self.nodes[n].broker for n in names or self.nodes]

    # -- processes --------------------------------------------------------------------------------

    def start_epmd(self, timeout: float = 10.0) -> None:
        with open(self.workdir / "epmd.log", "ab") as log:
            self.epmd = subprocess.Popen(
                [str(EPMD), "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.base_env, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not _listening(self.epmd_port):
            if self.epmd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"epmd did not listen on {self.epmd_port}")
            time.sleep(0.02)

    def launch(self, name: str) -> None:
        """Start one node's process; `wait_up` waits for it."""
        node = self.nodes[name]
        assert not node.running, f"{node.nodename} is already running"
        node.write_config()
        with open(node.workdir / "stdout.log", "ab") as out:
            node.proc = subprocess.Popen(
                [str(RABBITMQ_SERVER)], cwd=node.workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                env=node.env(self.base_env), start_new_session=True,  # one process group: sh, beam, children
            )  # fmt: skip

    def wait_up(self, name: str, timeout: float) -> None:
        """Until the node's MQTT listener answers: the plugin starts last, so the broker is up."""
        node = self.nodes[name]
        deadline = time.monotonic() + timeout
        while not _listening(node.mqtt_port):
            if not node.running:
                raise RuntimeError(f"{node.nodename} exited: {self._tail(node)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{node.nodename} not up in {timeout:g}s: {self._tail(node)}")
            time.sleep(0.1)

    def start(self, name: str, timeout: float = 180.0) -> None:
        """Boot a node that was killed (it rejoins on its own) and wait for its MQTT listener. About
        100 s in a two-node cluster (see the module docstring); a few seconds with three nodes."""
        self.launch(name)
        self.wait_up(name, timeout)

    def kill(self, name: str) -> None:
        """kill -9 the node: beam, the sh around it and its helpers (one process group)."""
        proc = self.nodes[name].proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def close(self) -> None:
        for name in self.nodes:
            self.kill(name)
        if self.epmd is not None and self.epmd.poll() is None:
            self.epmd.kill()
            self.epmd.wait(10)

    # -- rabbitmqctl ------------------------------------------------------------------------------

    def ctl(self, name: str, *args: str, timeout: float = 60.0) -> str:
        """`rabbitmqctl -n <node> ARGS`: its stdout, or RuntimeError with what it said."""
        node = self.nodes[name]
        done = subprocess.run(
            [str(RABBITMQCTL), "-n", node.nodename, *args], env=self.base_env, stdin=subprocess.DEVNULL,
            capture_output=True, timeout=timeout, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {node.nodename} {' '.join(args)}: exit {done.returncode}\n"
                               f"{done.stdout.decode()}{done.stderr.decode()}")  # fmt: skip
        return done.stdout.decode()

    def running_nodes(self, via: str) -> list[str]:
        status = json.loads(self.ctl(via, "cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])

    def join(self, name: str, seed: str) -> None:
        self.ctl(name, "stop_app")
        self.ctl(name, "join_cluster", self.nodes[seed].nodename)
        self.ctl(name, "start_app")

    def _tail(self, node: RabbitNode, lines: int = 30) -> str:
        texts = []
        for path in (node.workdir / "stdout.log", node.log):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                texts.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(texts)


@contextlib.contextmanager
def start_rabbitmq_cluster(workdir: Path, nodes: int = 2, timeout: float = 90.0) -> Iterator[RabbitCluster]:
    """Nodes a, b (, c...) clustered with a; yields once `cluster_status` shows all of them running."""
    why = available()
    if why is not None:
        raise RabbitUnavailable(why)
    assert 1 <= nodes <= 26
    workdir.mkdir(parents=True, exist_ok=True)
    names = [chr(ord("a") + i) for i in range(nodes)]
    cluster = RabbitCluster(workdir, names)
    try:
        cluster.start_epmd()
        for name in names:  # all boot at once: the slow part, and it overlaps
            cluster.launch(name)
        for name in names:
            cluster.wait_up(name, timeout)
        for name in names[1:]:
            cluster.join(name, names[0])
        want = sorted(n.nodename for n in cluster.nodes.values())
        deadline = time.monotonic() + timeout
        while (seen := cluster.running_nodes(names[0])) != want:
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not formed in {timeout:g}s: running {seen}, want {want}")
            time.sleep(0.2)
        for name in names[1:]:
            cluster.wait_up(name, timeout)  # start_app returned; the plugin's listener is up again
        yield cluster
    finally:
        cluster.close()
