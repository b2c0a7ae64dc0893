"""Icinga2Forwarder: every check result, as a passive check result, to an Icinga 2 beside watchd.

Best effort and bounded, like the MQTT publisher: `forward()` (called by the pipeline's ForwardStage
after the commit) maps the result to an Icinga object, puts the request body in the bounded Backlog
and wakes the sender; it never waits for the network and never raises. One sender task sends rounds of
up to `batch` requests at once over one keep-alive session. A result Icinga refuses for good (no such
object, passive checks off) is dropped, counted and logged once per object. When Icinga does not
answer (or refuses the credentials) the round goes back in front of the backlog, the sender backs off
(core/backoff.py) and probes with one request at a time; it says so once when Icinga becomes
unreachable and once when it answers again, with what was dropped meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import ssl
import time
from collections.abc import Awaitable, Callable

import aiohttp
import structlog

from watchd import __version__
from watchd.core.backoff import backoff
from watchd.core.model import CheckResult
from watchd.delivery.httpcall import read_capped
from watchd.delivery.icinga2 import payload
from watchd.delivery.icinga2.payload import Answer, Verdict
from watchd.delivery.icinga2.queue import Backlog, Item
from watchd.delivery.icinga2.settings import Icinga2Settings

log = structlog.get_logger("watchd.icinga2")

MAX_ANSWER = 64 * 1024
Sleep = Callable[[float], Awaitable[object]]


def tls_context(s: Icinga2Settings) -> ssl.SSLContext:
    """Built once (it reads files): Icinga's chain is always verified (its API is HTTPS only)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=s.ca_file)
    if s.cert_file and s.key_file:
        ctx.load_cert_chain(s.cert_file, s.key_file)
    if s.insecure:
        ctx.check_hostname = False
    return ctx


class Icinga2Forwarder:
    def __init__(
        self,
        settings: Icinga2Settings,
        watchd_host: str,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.watchd_host = watchd_host
        self.backlog = Backlog(settings.queue_size)
        self.url = settings.url.rstrip("/") + "/v1/actions/process-check-result"
        self._tls = tls_context(settings)  # here, so a bad certificate fails a reload, not the sender
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.reachable: bool | None = None  # None until Icinga first answered or failed to
        self.last_error: str | None = None
        self.sent = 0
        self.rejected = 0
        self.errors = 0  # results that could not even be queued (a bug; logged)
        self._refused: set[payload.Target] = set()  # objects whose refusal was logged
        self._down_since = 0.0
        self._dropped_at_outage = 0
        self._warned_full = False

    # -- the pipeline side: never blocks, never raises ----------------------------------------------

    def forward(self, result: CheckResult) -> None:
        try:
            target = payload.target_for(self.settings, self.watchd_host, result.check)
            if target is None:
                return
            body = payload.encode(payload.body(self.settings, self.watchd_host, target, result))
            before = self.backlog.dropped
            self.backlog.put(Item(target, body, result.check))
            if self.backlog.dropped > before and not self._warned_full:
                self._warned_full = True
                log.warning("icinga2 backlog full; dropping the oldest results", size=self.backlog.size)
            self._idle.clear()
            self._wake.set()
        except Exception:  # forwarding is best effort: it must never break the pipeline
            self.errors += 1
            log.exception("icinga2: could not queue a result", check=result.check)

    # -- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        headers = {"Accept": "application/json", "User-Agent": f"watchd/{__version__}"}
        if s.username is not None:
            token = base64.b64encode(f"{s.username}:{s.password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._tls, limit=max(s.batch, 1)), headers=headers
        )
        self._task = asyncio.get_running_loop().create_task(self._run())
        log.info("icinga2 forwarding started", url=s.url, host=s.host)

    async def stop(self, grace: float | None = None) -> None:
        """Send what is queued for up to `grace` seconds (while Icinga answers), then stop."""
        grace = self.settings.stop_grace if grace is None else grace
        if self._task is not None and self.reachable is not False and len(self.backlog):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        left = self.backlog.clear()
        log.info(
            "icinga2 forwarding stopped", sent=self.sent, rejected=self.rejected,
            dropped=self.backlog.dropped, unsent=left,
        )  # fmt: skip

    # -- the sender -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            if not len(self.backlog):
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            limit = 1 if self.reachable is False else max(self.settings.batch, 1)
            items = self.backlog.take(limit)
            answers = await asyncio.gather(*(self._send(i) for i in items))
            retry = [i for i, a in zip(items, answers, strict=True) if a.verdict is Verdict.RETRY]
            for item, answer in zip(items, answers, strict=True):
                if answer.verdict is Verdict.SENT:
                    self.sent += 1
                elif answer.verdict is Verdict.REJECTED:
                    self._note_rejected(item, answer)
            if retry:
                self.backlog.give_back(retry)
                self._note_down(next(a.why for a in answers if a.verdict is Verdict.RETRY))
                s = self.settings
                await self._wait(backoff(attempt, s.retry_min, s.retry_max, self._rng))
                attempt += 1
            else:
                attempt = 0
                self._note_up()

    async def _send(self, item: Item) -> Answer:
        assert self._session is not None
        try:
            async with self._session.post(
                self.url,
                data=item.body,
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                allow_redirects=False,
            ) as resp:
                return payload.judge_answer(resp.status, await read_capped(resp, MAX_ANSWER))
        except TimeoutError:
            return Answer(Verdict.RETRY, f"no answer within {self.settings.timeout:g}s")
        except (aiohttp.ClientError, OSError) as exc:
            return Answer(Verdict.RETRY, f"{type(exc).__name__}: {exc}")

    def _note_rejected(self, item: Item, answer: Answer) -> None:
        self.rejected += 1
        if item.target not in self._refused:  # once per object, not once per result
            self._refused.add(item.target)
            log.warning("icinga2 refused a result; dropped", object=str(item.target), check=item.check,
                        why=answer.why)  # fmt: skip

    def _note_down(self, why: str) -> None:
        if self.reachable is not False:
            self._down_since = time.monotonic()
            self._dropped_at_outage = self.backlog.dropped
            log.warning("icinga2 unreachable; results are queued and retried", url=self.settings.url,
                        error=why, queued=len(self.backlog))  # fmt: skip
        elif why != self.last_error:  # a new kind of failure, not every attempt
            log.warning("icinga2 still unreachable", url=self.settings.url, error=why,
                        queued=len(self.backlog))  # fmt: skip
        self.reachable, self.last_error = False, why

    def _note_up(self) -> None:
        if self.reachable is False:
            log.info(
                "icinga2 reachable again", url=self.settings.url, queued=len(self.backlog),
                down_for_s=round(time.monotonic() - self._down_since, 1),
                dropped=self.backlog.dropped - self._dropped_at_outage,
            )  # fmt: skip
            self._warned_full = False
        self.reachable, self.last_error = True, None

    async def _wait(self, delay: float) -> None:
        sleeper = asyncio.ensure_future(self._sleep(delay))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, stopper):
                t.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)
