"""The MQTT connection: connect (TLS, credentials, last will), run a session, reconnect with backoff.

`Connection.run()` loops until `stop()`: it connects with a fresh aiomqtt client, hands it to the
session callback (the Bus: announce, subscribe, send, receive) and, when the connection breaks, waits
`backoff(attempt)` (exponential, with jitter from an injected `random.Random`) and tries again. On
`stop()` the session finishes cleanly and the client sends DISCONNECT, so the broker drops the will.

With several brokers (`brokers:`, the nodes of one cluster) the connection starts with the first and,
whenever a connect fails or a session ends, moves on to the next one, round the list; the backoff
between attempts is the same as with one broker. It does not move back to a preferred broker on its
own: a connection that works is kept. The client id is the configured one on the first broker and
`<id>@<n>` on the n-th (see `client_id_for`).

MQTT 5 by default; when a broker refuses it as an unsupported protocol version, 3.1.1 is used from
then on (nothing here needs v5; it is preferred for its reason codes and session handling).
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from collections.abc import Awaitable, Callable

import aiomqtt
import structlog
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode

from watchd.bus.config import MqttConfig
from watchd.core.backoff import backoff

NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

log = structlog.get_logger("watchd.bus")

Session = Callable[[aiomqtt.Client], Awaitable[None]]
Sleep = Callable[[float], Awaitable[object]]

_BAD_PROTOCOL = {1, 132}  # CONNACK: 3.1.1 "unacceptable protocol version", 5 "unsupported protocol version"



def tls_context(cfg: MqttConfig) -> ssl.SSLContext | None:
    """Built once (it reads files): the broker's chain is always verified; `insecure` only skips the
    host name check."""
    if cfg.tls is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cfg.tls.ca_file)
    if cfg.tls.cert_file and cfg.tls.key_file:
        ctx.load_cert_chain(cfg.tls.cert_file, cfg.tls.key_file)
    if cfg.tls.insecure:
        ctx.check_hostname = False
    return ctx


def client_id_for(client_id: str, index: int) -> str:
    """The client id for the broker at `index` of the list. RabbitMQ 3.10 keeps a QoS 1 subscription,
    even of a clean session, in a durable queue named after the client id on the node it was made on;
    while that node is down the cluster refuses the same id a QoS 1 subscription on every other node
    (NOT_FOUND, home node down) and closes the connection. One id per broker lets a client fail over."""
    return client_id if index == 0 else f"{client_id}@{index + 1}"


def read_secret_file(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


class Connection:
    def __init__(
        self,
        cfg: MqttConfig,
        client_id: str,
        will: aiomqtt.Will,
        session: Session,
        rng: random.Random,
        sleep: Sleep = asyncio.sleep,
        password: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.client_id = client_id
        self.will = will
        self._session = session
        self._rng = rng
        self._sleep = sleep
        self._password = password
        self._tls = tls_context(cfg)
        self.protocol = aiomqtt.ProtocolVersion.V5 if cfg.protocol == "5" else aiomqtt.ProtocolVersion.V311
        self.stopping = asyncio.Event()
        self.connected = False
        self.reconnects = 0  # connection attempts after the first
        self.last_error: str | None = None
        self.servers = cfg.servers
        self.current = 0  # index into servers: the broker the next attempt goes to
        self._logged: set[tuple[str, str]] = set()  # (broker, error) warned about since the last connect

    @property
    def broker(self) -> str:
        return str(self.servers[self.current])

    def client(self) -> aiomqtt.Client:
        target = self.servers[self.current]
        return aiomqtt.Client(
            target.host,
            target.port,
            username=self.cfg.username,
            password=self._password,
            identifier=client_id_for(self.client_id, self.current),
            protocol=self.protocol,
            will=self.will,
            keepalive=self.cfg.keepalive,
            tls_context=self._tls,
            timeout=10,
            # Without it, a QoS 1 publish right after a QoS 0 one waits for the broker's delayed ACK
            # of the first (Nagle): 40 ms each, so a host's state changes went out at 25/s at most.
            socket_options=(NODELAY,),
        )

    async def run(self) -> None:
        attempt = 0
        while not self.stopping.is_set():
            try:
                async with self.client() as client:
                    self.connected, attempt, self.last_error = True, 0, None
                    self._logged.clear()
                    log.info("mqtt connected", broker=self.broker, protocol=self.protocol.name,
                             client_id=client_id_for(self.client_id, self.current))  # fmt: skip
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                self._note_failure(exc)
            except Exception as exc:  # a bug in a session must not end the bus for good
                log.exception("mqtt session failed")
                self.last_error = repr(exc)
            finally:
                self.connected = False
            if self.stopping.is_set():
                return
            self._next_broker()
            delay = backoff(attempt, self.cfg.reconnect_min, self.cfg.reconnect_max, self._rng)
            attempt += 1
            self.reconnects += 1
            await self._wait(delay)

    def _next_broker(self) -> None:
        """After a failed connect or a dropped session: the next attempt goes to the next broker (the
        failure was logged naming this one; "mqtt connected" names the one that worked)."""
        self.current = (self.current + 1) % len(self.servers)

    def _note_failure(self, exc: aiomqtt.MqttError) -> None:
        rc = getattr(exc, "rc", None)
        code = rc.value if isinstance(rc, ReasonCode) else rc
        v5 = self.protocol is aiomqtt.ProtocolVersion.V5
        if v5 and isinstance(exc, MqttConnectError) and code in _BAD_PROTOCOL:
            log.warning("broker refuses MQTT 5; using 3.1.1")
            self.protocol = aiomqtt.ProtocolVersion.V311
        text = str(exc) or type(exc).__name__
        if (self.broker, text) not in self._logged:  # one line per broker and kind of failure
            self._logged.add((self.broker, text))
            log.warning("mqtt connection failed; will retry", error=text, broker=self.broker)
        self.last_error = text

    async def _wait(self, delay: float) -> None:
        sleeper = asyncio.ensure_future(self._sleep(delay))
        stopper = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, stopper):
                t.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)
