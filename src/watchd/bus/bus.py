"""The Bus: the one object the daemon owns for MQTT (docs/mqtt.md, "Wiring").

    bus = Bus(config.mqtt, config.host, __version__, clock, daemon.submit, handler, random.Random())
    PublishStage(lambda: bus.publisher)   # in the pipeline, after PersistStage
    await bus.start() ... await bus.stop()

It publishes this host's status (retained; the last will says offline when the connection dies),
heartbeats, and whatever the BatchPublisher queued; when `peers` is set it watches the other hosts' status and
heartbeats and submits `fleet.<peer>` results; with a command secret it takes signed commands. Given a
snapshot source, its Mirror keeps the retained incident and maintenance snapshots (bus.mirror); every
new connection queues all retained messages again.

Tasks: the connection (connect, session, backoff), inside a session a reader, a sender draining the
buffer and the heartbeat; outside it, the fleet timer, the mirror and one submitter that feeds fleet
results to the daemon in order. The pipeline side only ever touches the buffer.

About 450 lines: the tasks share one connection's lifetime and the buffer, and read best together;
the pure parts (topics, payloads, buffer, fleet, commands, snapshots) and the mirror are modules of
their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiomqtt
import structlog

from watchd.bus import payloads
from watchd.bus.buffer import Kind, Message, OfflineBuffer
from watchd.bus.commands import CommandDispatcher, CommandHandler
from watchd.bus.config import MqttConfig
from watchd.bus.connection import Connection, Sleep, read_secret_file
from watchd.bus.fleet import FleetWatcher
from watchd.bus.mirror import Mirror
from watchd.bus.publisher import BatchPublisher
from watchd.bus.snapshots import SnapshotSource
from watchd.bus.topics import Topics
from watchd.core.clock import Clock
from watchd.core.model import CheckResult

log = structlog.get_logger("watchd.bus")

Submit = Callable[[CheckResult], Awaitable[object]]

SYNC_TIMEOUT = 5.0  # wait at most this long for the retained statuses after subscribing
RESYNC_EVERY = 10.0  # at most one republish of the retained state per this many seconds ...
RESYNC_SPREAD = 2.0  # ... started within this many seconds of the request (random)
STOP_DRAIN = 3.0  # on stop, time to flush the buffer before saying offline
MIN_SECRET = 16  # bytes; shorter command secrets are refused at start
NOTIFY_TIMEOUT = 10.0  # how long a notification waits for the broker's PUBACK before it is retried


@dataclass(frozen=True, slots=True)
class BusStats:
    connected: bool
    published: int  # messages the broker took (QoS 1: acknowledged)
    dropped: int  # buffer overflow, all kinds (mostly results)
    dropped_results: int
    coalesced: int  # state messages replaced by a newer one before they were sent
    buffered: int
    reconnects: int
    fleet_reports: int  # fleet.<peer> results submitted
    commands_dispatched: int
    commands_refused: int


class Bus:
    def __init__(
        self,
        config: MqttConfig,
        host: str,
        version: str,
        clock: Clock,
        submit: Submit,
        commands: CommandHandler | None = None,
        rng: random.Random | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        snapshots: SnapshotSource | None = None,
    ) -> None:
        """`snapshots`: where the retained incident and maintenance snapshots come from (the
        daemon's store); without it incidents are published as lifecycle events only."""
        self.config = config
        self.host = host
        self.version = version
        self.clock = clock
        self._submit = submit
        self._handler = commands
        self._rng = rng or random.Random()
        self._resynced_at = -math.inf
        self.resyncs = 0  # resync requests answered
        self._sleep = sleep
        self.topics = Topics(config.prefix, host)
        self.buffer = OfflineBuffer(config.buffer_size)
        self._wakeup = asyncio.Event()
        self.mirror: Mirror | None = None
        if snapshots is not None:
            self.mirror = Mirror(self.topics, self.buffer, self._wakeup.set, snapshots, clock)
        self.publisher = BatchPublisher(
            self.topics, self.buffer, config.result_qos, self._wakeup.set,
            self.mirror.touched if self.mirror is not None else None,
        )  # fmt: skip
        self.fleet = FleetWatcher(host, config.peers, config.effective_peer_timeout) if config.peers else None
        self.dispatcher: CommandDispatcher | None = None
        self.started_at = 0.0
        self.published = 0
        self.fleet_reports = 0
        self._conn: Connection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[CheckResult] = asyncio.Queue()
        self._client: aiomqtt.Client | None = None
        self._seq = 0
        self._sync_seq: int | None = None
        self._published_claims: frozenset[str] = frozenset()
        self._stopping = False
        self._acks: dict[int, asyncio.Future[None]] = {}  # buffer tickets whose sender awaits the PUBACK
        self._sending: int | None = None  # the ticket being published now

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Read the credential files (OSError/ValueError if unusable) and start connecting; returns at
        once, the connection comes up in the background (see `connected`)."""
        cfg = self.config
        password = read_secret_file(cfg.password_file) if cfg.password_file else None
        if cfg.command_secret_file:
            secret = read_secret_file(cfg.command_secret_file).encode()
            if len(secret) < MIN_SECRET:
                raise ValueError(f"{cfg.command_secret_file}: command secret shorter than {MIN_SECRET} bytes")
            if self._handler is None:
                log.warning("mqtt commands configured but the daemon gave no handler; not subscribing")
            else:
                self.dispatcher = CommandDispatcher(self.host, secret, self._handler, cfg.command_max_age)
        self.started_at = self.clock.time()
        will = aiomqtt.Will(
            self.topics.status,
            payloads.status_offline(self.host, self.version, self.started_at, payloads.REASON_LOST),
            qos=1,
            retain=True,
        )
        client_id = cfg.client_id or f"watchd-{self.host}"
        self._conn = Connection(cfg, client_id, will, self._session, self._rng, self._sleep, password)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._conn.run(), name="bus-connection")]
        self._tasks.append(loop.create_task(self._submitter(), name="bus-submit"))
        if self.mirror is not None:
            self._tasks.append(loop.create_task(self.mirror.run(), name="bus-mirror"))
        if self.fleet is not None:
            self._tasks.append(loop.create_task(self._ticker(), name="bus-fleet"))

    async def stop(self) -> None:
        """Flush what is buffered (bounded), publish status offline (retained), disconnect cleanly."""
        self._stopping = True
        if self.mirror is not None:
            self.mirror.sync_safely()  # what changed since the last sync goes out with the flush
        if self._conn is not None:
            self._conn.stopping.set()
            self._wakeup.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._tasks[0]), STOP_DRAIN + 5)
            except TimeoutError:
                log.warning("mqtt did not stop in time")
        for task in [*self._tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._background, return_exceptions=True)
        self._tasks = []

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def stats(self) -> BusStats:
        dropped = self.buffer.dropped
        d = self.dispatcher
        return BusStats(
            connected=self.connected,
            published=self.published,
            dropped=sum(dropped.values()),
            dropped_results=dropped[Kind.RESULT.value],
            coalesced=self.buffer.coalesced,
            buffered=len(self.buffer),
            reconnects=self._conn.reconnects if self._conn else 0,
            fleet_reports=self.fleet_reports,
            commands_dispatched=d.dispatched if d else 0,
            commands_refused=sum(d.refused.values()) if d else 0,
        )

    async def notify(self, contact: str, payload: bytes, timeout: float = NOTIFY_TIMEOUT) -> bool:
        """Publish a notification for a contact (QoS 1, never dropped for results' sake) and wait until
        the broker has taken it: True then. False if it did not within `timeout` (broker away, or the
        buffer full); the message is then taken back, unless it is being published at that moment, so
        the caller's retry does not send it twice. A kill -9 while waiting loses nothing: the caller
        has not recorded it as delivered."""
        seq = self.buffer.put(Message(self.topics.notify(contact), payload, 1, False, Kind.EVENT))
        if seq is None:
            return False
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acks[seq] = acked
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(acked), timeout)
            return True
        except TimeoutError:
            if self._sending == seq:  # on the wire: its PUBACK decides
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(acked), timeout)
                    return True
            self.buffer.withdraw(seq)
            return acked.done()
        finally:
            self._acks.pop(seq, None)

    def forget_checks(self, checks: Iterable[str]) -> None:
        """Checks removed from the configuration: clear their retained state topics."""
        self.publisher.forget(set(checks))

    # -- one connection ---------------------------------------------------------------------------

    async def _session(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[Any]] = []
        sync_timer: asyncio.TimerHandle | None = None
        try:
            self.buffer.discard("status")  # a fresh one goes out first
            await client.publish(self.topics.status, self._status_payload(), qos=1, retain=True)
            self._client = client
            self._republish_retained()
            subscriptions: list[tuple[str, int]] = self._retained_subscriptions()
            if self.fleet is not None:
                self.fleet.reset(self.clock.monotonic())
                # QoS 0: retained statuses are not held back by the broker's per-client queue limit,
                # and arrive in order with the heartbeat used as the end-of-retained marker below.
                subscriptions += [(self.topics.all_status, 0), (self.topics.all_heartbeat, 0)]
            if self.dispatcher is not None:
                subscriptions.append((self.topics.commands, 1))
            subscriptions.append((self.topics.resync, 0))
            await client.subscribe(subscriptions)
            tasks = [
                loop.create_task(self._reader(client)),
                loop.create_task(self._sender(client)),
                loop.create_task(self._heartbeats(client)),
            ]
            if self.fleet is not None:
                self._sync_seq = self._seq + 1  # the first heartbeat comes back after the retained ones
                sync_timer = loop.call_later(SYNC_TIMEOUT, self._synced, True)
            assert self._conn is not None
            stop = loop.create_task(self._conn.stopping.wait())
            tasks.append(stop)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if stop in done:
                await self._close(client, tasks[1])
                return
            for task in done:
                task.result()  # the reason the session ended, usually MqttError
            raise aiomqtt.MqttError("session ended")
        finally:
            self._client = None
            if sync_timer is not None:
                sync_timer.cancel()
            if self.fleet is not None:
                self.fleet.synced = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _close(self, client: aiomqtt.Client, sender: asyncio.Task[None]) -> None:
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(sender), STOP_DRAIN)
        except TimeoutError:
            log.warning("mqtt stop: buffer not flushed in time", left=len(self.buffer))
        except aiomqtt.MqttError:
            return  # the connection broke meanwhile; the will says offline
        offline = payloads.status_offline(
            self.host, self.version, self.started_at, payloads.REASON_SHUTDOWN, self.clock.time()
        )
        await client.publish(self.topics.status, offline, qos=1, retain=True, timeout=2)

    async def _reader(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            try:
                self._on_message(msg)
            except Exception:
                log.exception("mqtt message handling failed", topic=msg.topic.value)

    async def _sender(self, client: aiomqtt.Client) -> None:
        """Drain the buffer in order while connected; a message stays queued until the broker took it."""
        while True:
            item = self.buffer.peek()
            if item is None:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            seq, msg = item
            self._sending = seq
            try:
                await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            finally:
                self._sending = None
            self.buffer.done(seq)
            self.published += 1
            acked = self._acks.get(seq)
            if acked is not None and not acked.done():
                acked.set_result(None)

    async def _heartbeats(self, client: aiomqtt.Client) -> None:
        interval = self.config.heartbeat_interval
        while True:
            self._seq += 1
            body = payloads.heartbeat(self.host, self._seq, self.clock.time(), interval)
            await client.publish(self.topics.heartbeat, body, qos=0)
            await asyncio.sleep(interval)

    def _status_payload(self) -> bytes:
        claims = self.fleet.claims if self.fleet is not None else frozenset()
        self._published_claims = claims
        return payloads.status_online(
            self.host, self.version, self.started_at, self.clock.time(), self.config.heartbeat_interval,
            self.config.peers, claims,
        )  # fmt: skip

    # -- messages in ------------------------------------------------------------------------------

    def _on_message(self, msg: aiomqtt.Message) -> None:
        if msg.topic.value == self.topics.resync:
            self._resync_requested(bool(msg.retain))
            return
        parsed = self.topics.parse(msg.topic.value)
        if parsed is None:
            return
        payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload or "").encode()
        fleet = self.fleet
        if parsed.kind == "heartbeat" and not parsed.rest and fleet is not None:
            if parsed.host != self.host:
                fleet.on_heartbeat(parsed.host, self.clock.monotonic())
            elif self._sync_seq is not None and not fleet.synced:
                self._own_heartbeat(payload)
        elif parsed.kind == "status" and not parsed.rest and fleet is not None:
            if parsed.host == self.host:
                self._own_status(payload)
                return
            status = payloads.decode_status(payload) if payload else None
            if payload and status is None:
                return  # not ours to judge
            everyone = fleet.on_status(parsed.host, status, self.clock.monotonic(), self.clock.time())
            self._evaluate(None if everyone else [parsed.host])
        elif parsed.kind == "incident" and parsed.host == self.host:
            self._own_incident(parsed.rest, payload, msg.retain)
        elif parsed.kind == "command" and parsed.host == self.host and self.dispatcher is not None:
            if not payload:
                return  # someone clearing a retained command
            if msg.retain:  # delivered from the broker's store on (re)subscribe: never acted on
                log.warning("retained command ignored", topic=msg.topic.value)
                return
            verb = parsed.rest[0] if parsed.rest else ""
            self._spawn(self._command(verb, payload))

    def _own_heartbeat(self, payload: bytes) -> None:
        seq = payloads.decode_heartbeat_seq(payload)
        if seq is not None and self._sync_seq is not None and seq >= self._sync_seq:
            self._synced(False)

    def _synced(self, timed_out: bool) -> None:
        if self.fleet is None or self.fleet.synced or self._client is None:
            return
        if timed_out:
            log.warning("fleet: retained statuses not confirmed in time; judging peers anyway")
        self.fleet.synced = True
        self._evaluate(None)

    def _own_status(self, payload: bytes) -> None:
        """Someone (a stale will of an earlier connection) says this host is offline: correct it."""
        status = payloads.decode_status(payload) if payload else None
        if not self._stopping and self._client is not None and (status is None or not status.online):
            log.info("own status was overwritten; publishing online again")
            self._publish_status()

    def _publish_status(self) -> None:
        msg = Message(self.topics.status, self._status_payload(), 1, True, Kind.STATE, key="status")
        self.buffer.put(msg)
        self._wakeup.set()

    # -- retained snapshots (bus.mirror) ----------------------------------------------------------

    def _republish_retained(self) -> None:
        """A new connection: the broker may have lost its retained store (restarted without
        persistence, or another node of a cluster), so every retained message goes out again."""
        self.publisher.republish()
        if self.mirror is not None:
            self.mirror.republish()

    def _resync_requested(self, retained: bool) -> None:
        """A consumer asks for the retained state again. Anyone on the broker may ask, so it costs at
        most one republish per RESYNC_EVERY, spread over RESYNC_SPREAD so a fleet does not answer in
        the same millisecond; a retained request (left on the broker) is never obeyed."""
        now = self.clock.monotonic()
        if retained or self._client is None or now - self._resynced_at < RESYNC_EVERY:
            return
        self._resynced_at = now
        self.resyncs += 1
        delay = self._rng.uniform(0, RESYNC_SPREAD)
        asyncio.get_running_loop().call_later(delay, self._resync)

    def _resync(self) -> None:
        if self._client is not None:
            self._republish_retained()
            self._wakeup.set()

    def _retained_subscriptions(self) -> list[tuple[str, int]]:
        """Our own retained incident snapshots, handed back on subscribing, to clear stale ones."""
        return [(self.topics.incidents, 0)] if self.mirror is not None else []

    def _own_incident(self, rest: tuple[str, ...], payload: bytes, retained: bool) -> None:
        # Only what the broker holds (the retain flag is set on subscribe), not our own live publishes.
        if self.mirror is None or not retained or not payload or len(rest) != 1:
            return
        if rest[0].isascii() and rest[0].isdigit():
            self.mirror.seen_retained(int(rest[0]))

    # -- fleet ------------------------------------------------------------------------------------

    async def _ticker(self) -> None:
        assert self.fleet is not None
        tick = min(1.0, self.fleet.timeout / 4)
        while True:
            await asyncio.sleep(tick)
            try:
                self._evaluate(None)
            except Exception:
                log.exception("fleet evaluation failed")

    def _evaluate(self, hosts: list[str] | None) -> None:
        fleet = self.fleet
        if fleet is None or not fleet.synced:
            return
        for result in fleet.evaluate(self.clock.monotonic(), self.clock.time(), hosts):
            self.fleet_reports += 1
            log.info("fleet report", check=result.check, state=result.state.name, summary=result.summary)
            self._results.put_nowait(result)
        if fleet.claims != self._published_claims:
            self._publish_status()

    async def _submitter(self) -> None:
        while True:
            result = await self._results.get()
            try:
                await self._submit(result)
            except Exception:
                log.exception("submitting a fleet result failed", check=result.check)

    # -- commands ---------------------------------------------------------------------------------

    async def _command(self, verb: str, payload: bytes) -> None:
        assert self.dispatcher is not None
        out = await self.dispatcher.handle(verb, payload, self.clock.time())
        body = payloads.command_result(self.host, verb, out.ok, out.reason, self.clock.time(), out.nonce)
        self.buffer.put(Message(self.topics.command_result, body, 1, False, Kind.EVENT))
        self._wakeup.set()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
