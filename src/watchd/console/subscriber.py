"""Feeds the live view and the history from the bus: one subscription to `<prefix>#`.

After each (re)connect the broker first sends every retained message (statuses, check states, open
incidents, maintenance), then live traffic. The console also asks every host to publish its retained
state again (`<prefix>$fleet/resync`): RabbitMQ gives no retained messages to a `#` subscription, and a
broker that lost its store (a restart without persistence, another cluster node) is refilled by it.

The console publishes a marker to itself right after subscribing; when it comes back, the retained set
is complete. Once the hosts have also answered the resync (RESYNC_SETTLE later), incidents history
still holds as open but no host retains any more were resolved while the console was away.

Per message the work is small and proportional to what the view needs: a heartbeat is judged by its
topic alone, and a result is decoded only when its check is due a graph sample (once per
`sample_every`, 5 min by default: Munin's resolution), so most results cost two dict lookups.
"""

from __future__ import annotations

import asyncio
import gc
import math
import random
import secrets
import zlib
from collections.abc import Callable
from typing import Any

import aiomqtt
import structlog

from watchd.bus.connection import Connection, read_secret_file
from watchd.bus.payloads import parse_json
from watchd.bus.topics import Topics, escape, unescape
from watchd.console.config import ConsoleConfig
from watchd.console.fastpath import direct
from watchd.console.history import History, Sample
from watchd.console.view import FleetView

log = structlog.get_logger("watchd.console")

RESYNC_SETTLE = 10.0  # hosts answer a resync within RESYNC_SPREAD (2 s); the rest is the broker's queue
MARKER = "$console"  # a host level no watchd uses: `<prefix>$console/<client>/sync`


class Subscriber:
    def __init__(
        self,
        cfg: ConsoleConfig,
        view: FleetView,
        history: History,
        now: Callable[[], float],
        on_command_result: Callable[[str, dict[str, Any]], None] = lambda host, doc: None,
        client_id: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.view = view
        self.history = history
        self.now = now
        self.on_command_result = on_command_result
        self.prefix = cfg.mqtt.prefix
        self.client_id = client_id or cfg.mqtt.client_id or f"watchd-console-{secrets.token_hex(4)}"
        self._marker = f"{self.prefix}{MARKER}/{escape(self.client_id)}/sync"
        self._sample_every = cfg.graphs.sample_every
        self.synced = asyncio.Event()  # the retained set of the current connection is in
        self.client: aiomqtt.Client | None = None
        password = read_secret_file(cfg.mqtt.password_file) if cfg.mqtt.password_file else None
        offline = aiomqtt.Will(f"{self.prefix}{MARKER}/{escape(self.client_id)}/status", b"", 0, False)
        self.connection = Connection(
            cfg.mqtt, self.client_id, offline, self._session, random.Random(), password=password
        )

    async def run(self) -> None:
        await self.connection.run()

    def stop(self) -> None:
        self.connection.stopping.set()

    async def _session(self, client: aiomqtt.Client) -> None:
        self.synced.clear()
        self.client = client
        self._open_seen: dict[str, set[int]] = {}  # open incidents heard of on this connection
        try:
            # QoS 0: a broker holds back QoS 1 messages beyond a per-client queue (mosquitto: 1,000),
            # and the retained set of a large fleet is far more; QoS 0 ones go out as they come, in
            # order, marker last. A connection that drops loses what was in flight: the resync on
            # reconnect brings the current state again.
            if not direct(client, self._on_paho_message):
                log.warning("console: aiomqtt's internals changed; messages take its queue (slower)")
            await client.subscribe(f"{self.prefix}#", qos=0)
            await client.publish(self._marker, b"", qos=0)
            if self.cfg.resync:  # brokers that keep retained messages from `#` (RabbitMQ) need it
                await client.publish(Topics(self.prefix, "").resync, b"", qos=0)
            stop = asyncio.ensure_future(self.connection.stopping.wait())
            listen = asyncio.ensure_future(self._listen(client))
            try:
                done, _ = await asyncio.wait((stop, listen), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (stop, listen):
                    t.cancel()
            if listen in done:
                listen.result()  # the connection ended: MqttError, and the Connection reconnects
        finally:
            self.client = None

    async def _listen(self, client: aiomqtt.Client) -> None:
        """Ends (with MqttError) when the connection does. Messages come through `direct`'s callback;
        this loop only handles any that took aiomqtt's own way (none, unless aiomqtt changes)."""
        async for msg in client.messages:
            payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload or "").encode()
            self.handle(msg.topic.value, payload, msg.retain)

    def _on_paho_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # MQTT requires UTF-8 topics; a broker may pass others on
            self.view.rejected += 1
            return
        self.handle(topic, msg.payload, bool(msg.retain))

    def handle(self, topic: str, payload: bytes, retained: bool) -> None:
        """One message; never raises (a bad message is counted and dropped)."""
        if not topic.startswith(self.prefix):
            return
        levels = topic[len(self.prefix) :].split("/")
        if len(levels) < 2:
            return
        now = self.now()
        try:
            self._dispatch(levels, payload, retained, now)
        except Exception:  # a message must never end the subscription
            self.view.rejected += 1
            log.exception("console: message could not be handled", topic=topic)

    def _dispatch(self, levels: list[str], payload: bytes, retained: bool, now: float) -> None:
        view, kind = self.view, levels[1]
        if levels[0].startswith("$"):  # no host: our marker, a resync request
            if levels[0] == MARKER and levels[1:] == [escape(self.client_id), "sync"]:
                self._synced(now)
            return
        host = unescape(levels[0])
        view.messages += 1
        if kind == "heartbeat":
            view.heartbeat(host, now)
            return
        if kind == "check" and len(levels) == 4:
            check = unescape(levels[2])
            if levels[3] == "result":
                self._result(host, check, payload, now)
            elif levels[3] == "state":
                change = view.state(host, check, _doc(payload), now)
                if change is not None:
                    self.history.add(change)
            return
        if kind == "status":
            hchange = view.status(host, _doc(payload), now)
            if hchange is not None:
                self.history.add(hchange)
        elif kind == "incident" and len(levels) == 3 and levels[2].isdigit():
            iid = int(levels[2])
            doc = _doc(payload)
            if isinstance(doc, dict) and doc.get("status") == "open":
                self._open_seen.setdefault(host, set()).add(iid)
            ichange = view.incident(host, iid, doc, now)
            if ichange is not None:
                self.history.add(ichange)
        elif kind == "maintenance":
            mchange = view.maintenance(host, _doc(payload))
            if mchange is not None:
                self.history.add(mchange)
        elif kind == "command_result":
            doc = _doc(payload)
            if isinstance(doc, dict):
                self.on_command_result(host, doc)

    def _result(self, host: str, check: str, payload: bytes, now: float) -> None:
        h = self.view.hosts.get(host)
        if h is None:
            return  # its status and states come first (retained); results before them are not kept
        h.last_seen = now
        cv = h.checks.get(check)
        if cv is None or now < cv.next_sample:
            return
        doc = _doc(payload)
        if not isinstance(doc, dict) or doc.get("schema") != "watchd.result/v1":
            self.view.rejected += 1
            return
        cv.next_sample = next_slot(now, self._sample_every, f"{host}/{check}")
        perf = doc.get("perfdata")
        if not isinstance(perf, list):
            return
        at = doc.get("started_at")
        at = float(at) if isinstance(at, int | float) and not isinstance(at, bool) else now
        for p in perf[:20]:  # a plugin printing 5,000 items gets graphs of its first 20
            if not isinstance(p, dict):
                continue
            value, label = p.get("value"), p.get("label")
            if not isinstance(value, int | float) or isinstance(value, bool) or not isinstance(label, str):
                continue
            if value != value or value in (float("inf"), float("-inf")):
                continue
            uom = p.get("uom")
            self.history.sample(
                Sample(
                    host, check, label[:200], uom if isinstance(uom, str) else "", float(value),
                    threshold(p.get("warn")), threshold(p.get("crit")), at,
                )
            )  # fmt: skip

    def _synced(self, now: float) -> None:
        if self.synced.is_set():
            return
        self.synced.set()
        # The fleet's view is now hundreds of thousands of long-lived objects (a CheckView per
        # check): frozen, the collector stops walking them every full collection (181 ms pauses at
        # 10,000 hosts x 20 checks; the cost of a few percent of a core).
        gc.collect()
        gc.freeze()
        log.info("console: retained state complete", hosts=len(self.view.hosts))
        settle = RESYNC_SETTLE if self.cfg.resync else 0.0
        asyncio.get_running_loop().call_later(settle, self._close_missing, self._open_seen)

    def _close_missing(self, seen: dict[str, set[int]]) -> None:
        """Incidents history holds as open that no host has said anything about since we connected."""
        if seen is self._open_seen and self.client is not None:
            self.history.close_missing_incidents(seen, self.now())

    async def publish(self, topic: str, payload: bytes) -> None:
        client = self.client
        if client is None:
            raise ConnectionError("not connected to the broker")
        await client.publish(topic, payload, qos=1)


def _doc(payload: bytes) -> Any:
    """The JSON document, or None for an empty payload (a cleared retained topic)."""
    if not payload:
        return None
    try:
        return parse_json(payload)
    except ValueError:
        return {}  # not JSON: the view counts it as rejected (no schema)


def next_slot(now: float, every: float, key: str) -> float:
    """When the check `key` is sampled next: at the start of its next slot. Slots are `every` long,
    each check's shifted by a phase of its own. Every check is first sampled in the minute after the
    console starts; sampled again at fixed intervals from then, they would all come due together
    every `every`, and with the phase a fleet's samples spread evenly over time."""
    if every <= 0:
        return now
    phase = zlib.crc32(key.encode()) % 1_000_000 / 1_000_000 * every
    return (math.floor((now + phase) / every) + 1) * every - phase


def threshold(text: Any) -> float | None:
    """The line to draw for a Nagios range: its upper end (`10:20` -> 20, `~:5` -> 5, `80` -> 80)."""
    if not isinstance(text, str) or not text:
        return None
    part = text.lstrip("@").rpartition(":")[2] or text.lstrip("@").partition(":")[0]
    try:
        v = float(part.lstrip("~"))
    except ValueError:
        return None
    return v if v == v and abs(v) != float("inf") else None
