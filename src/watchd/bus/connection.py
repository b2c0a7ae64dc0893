"""The MQTT connection: connect (TLS, credentials, last will), run a session, reconnect with backoff.

`Connection.run()` loops until `stop()`: it connects with a fresh aiomqtt client, hands it to the
session callback (the Bus: announce, subscribe, send, receive) and, when the connection breaks, waits
`backoff(attempt)` (exponential, with jitter from an injected `random.Random`) and tries again. On
`stop()` the session finishes cleanly and the client sends DISCONNECT, so the broker drops the will.

MQTT 5 by default; when a broker refuses it as an unsupported protocol version, 3.1.1 is used from
then on (nothing here needs v5; it is preferred for its reason codes and session handling).
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Awaitable, Callable

import aiomqtt
import structlog
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode

from watchd.bus.config import MqttConfig
from watchd.core.backoff import backoff

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

    @property
    def broker(self) -> str:
        return f"{self.cfg.host}:{self.cfg.port}"

    def client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.cfg.host,
            self.cfg.port,
            username=self.cfg.username,
            password=self._password,
            identifier=self.client_id,
            protocol=self.protocol,
            will=self.will,
            keepalive=self.cfg.keepalive,
            tls_context=self._tls,
            timeout=10,
        )

    async def run(self) -> None:
        attempt = 0
        while not self.stopping.is_set():
            try:
                async with self.client() as client:
                    self.connected, attempt, self.last_error = True, 0, None
                    log.info("mqtt connected", broker=self.broker, protocol=self.protocol.name)
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
            delay = backoff(attempt, self.cfg.reconnect_min, self.cfg.reconnect_max, self._rng)
            attempt += 1
            self.reconnects += 1
            await self._wait(delay)

    def _note_failure(self, exc: aiomqtt.MqttError) -> None:
        rc = getattr(exc, "rc", None)
        code = rc.value if isinstance(rc, ReasonCode) else rc
        v5 = self.protocol is aiomqtt.ProtocolVersion.V5
        if v5 and isinstance(exc, MqttConnectError) and code in _BAD_PROTOCOL:
            log.warning("broker refuses MQTT 5; using 3.1.1")
            self.protocol = aiomqtt.ProtocolVersion.V311
        text = str(exc) or type(exc).__name__
        if text != self.last_error:  # one line per kind of failure, not one per attempt
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
