"""The long tail of push services (ntfy, Gotify, Pushover, Telegram, Matrix, Signal, Discord, ...)
through the apprise library (https://appriseit.com/services/) instead of hand-written clients.

apprise is synchronous (requests), so each URL is sent in a worker thread (asyncio.to_thread) under
the transport's timeout, all URLs of a contact at once. apprise is imported on the first page: it
costs about 0.4 s and 35 MB, which a daemon without apprise contacts never pays.

Title is the rendered subject, body the rendered text (push services take long bodies; apprise
splits or truncates per service) with the acknowledge link added when the text lacks it.

Several URLs make one delivery: if any fails, the DeliveryError is retryable and names the failed
services by scheme and position ("gotify #2"), never by URL: apprise URLs carry tokens, topics,
passwords, and the error text apprise logs is scrubbed of every part of the URL. The retry sends
only to the URLs that have not accepted this op_id yet (a success set per op_id, kept in memory),
and never to one whose earlier attempt is still running in its thread after a timeout. A crash
between one service accepting and the outbox recording the delivery loses that set, and the
retry after restart sends to that service again: a second push of the same page, which is the
price of never losing one (push services offer no idempotency key to make it exactly once).
A URL apprise cannot load fails for good once the working ones have been delivered.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from watchd.core.errors import DeliveryError
from watchd.delivery.notify.messages import Message

MAX_OPS = 1024  # success sets kept for ops still being retried; the oldest are dropped beyond
_NOTIFY_TYPE = {
    "resolve": "success",
    "ack": "info",
    "test": "info",
    "update": "info",
    "renotify": "warning",
    "resolution_breached": "warning",
}  # anything else (open, raised, escalate) is "failure": the loud one


def scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else "?"


def url_secrets(url: str) -> list[str]:
    """Every part of an apprise URL that may be a credential, longest first: user, password, host
    (Telegram's bot token is the host), path segments (tokens, topics), query values."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return [url]
    # The netloc is split by hand too: Telegram's "bot:token" host is no valid host:port.
    found = [parts.netloc, *re.split(r"[:@]", parts.netloc), host, *parts.path.split("/")]
    found += [v for _, v in parse_qsl(parts.query)]
    found += [unquote(x) for x in list(found)]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def redact(text: str, urls: Iterable[str]) -> str:
    for url in urls:
        text = text.replace(url, "<url>")
        for secret in url_secrets(url):
            text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
    return text


class _Capture(logging.Handler):
    """apprise tells why a send failed only in its log: collect the warnings per worker thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: dict[int, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        lines = self.lines.get(record.thread or 0)
        if lines is not None and len(lines) < 5:
            lines.append(record.getMessage())


_capture: _Capture | None = None
_capture_lock = threading.Lock()


def _install_capture() -> _Capture:
    global _capture
    with _capture_lock:
        if _capture is None:
            _capture = _Capture()
            logging.getLogger("apprise").addHandler(_capture)
        return _capture


def load(url: str) -> Any:
    """The apprise plugin object for `url`, or None if apprise does not accept it."""
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def check_urls(urls: Iterable[str]) -> list[str]:
    """A problem per URL apprise cannot load, naming position and scheme only (for config checks)."""
    return [
        f"URL {i} ({scheme(url)}://): apprise does not accept it"
        for i, url in enumerate(urls, 1)
        if load(url) is None
    ]


class AppriseTransport:
    """Sends a page to every apprise URL of a contact (a Transport: `await t(msg, event, facts, op_id)`)."""

    def __init__(self, urls: tuple[str, ...], timeout: float = 15.0) -> None:
        self.urls = urls
        self.timeout = timeout
        self._done: OrderedDict[int, set[int]] = OrderedDict()  # op_id -> indexes that accepted it
        self._running: set[tuple[int, int]] = set()  # (op_id, index) still in a worker thread
        self._lock = threading.Lock()

    def label(self, i: int) -> str:
        return f"{scheme(self.urls[i])} #{i + 1}"

    async def __call__(self, msg: Message, event: str, facts: dict[str, Any], op_id: int) -> None:
        body = msg.text
        ack = str(facts.get("ack_url") or "")
        if ack and ack not in body and event not in ("ack", "resolve"):
            body = f"{body}\n\nAcknowledge: {ack}"
        with self._lock:
            done = self._done.setdefault(op_id, set())
            self._done.move_to_end(op_id)
            while len(self._done) > MAX_OPS:
                self._done.popitem(last=False)
            todo = [i for i in range(len(self.urls)) if i not in done]
            busy = [i for i in todo if (op_id, i) in self._running]
            todo = [i for i in todo if i not in busy]
        kind = _NOTIFY_TYPE.get(event, "failure")
        outcomes = await asyncio.gather(*(self._one(i, op_id, msg.subject, body, kind) for i in todo))
        retry = [f"{self.label(i)}: an earlier attempt is still waiting for an answer" for i in busy]
        broken: list[str] = []
        for i, (ok, permanent, why) in zip(todo, outcomes, strict=True):
            if not ok:
                (broken if permanent else retry).append(f"{self.label(i)}: {why}")
        if retry:
            raise DeliveryError("apprise: " + "; ".join(retry + broken), retryable=True)
        if broken:
            raise DeliveryError("apprise: " + "; ".join(broken), retryable=False)
        with self._lock:
            self._done.pop(op_id, None)

    async def _one(self, i: int, op_id: int, title: str, body: str, kind: str) -> tuple[bool, bool, str]:
        """(delivered, permanent failure, why) for URL `i`."""
        with self._lock:
            self._running.add((op_id, i))
        task = asyncio.ensure_future(asyncio.to_thread(self._send, i, op_id, title, body, kind))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout + 1.0)
        except TimeoutError:
            # The thread cannot be stopped; it records its outcome when it ends (see _send).
            return False, False, f"no answer within {self.timeout:g}s"

    def _send(self, i: int, op_id: int, title: str, body: str, kind: str) -> tuple[bool, bool, str]:
        capture = _install_capture()
        me = threading.get_ident()
        capture.lines[me] = []
        try:
            # A fresh plugin per send: apprise's throttle would otherwise hold a second page to the
            # same service for 5.5 s, and no state is shared between worker threads.
            plugin = load(self.urls[i])
            if plugin is None:
                return False, True, "apprise does not accept this URL (check scheme and fields)"
            # apprise's own socket timeouts (4 s by default) under the transport's.
            plugin.socket_connect_timeout = min(self.timeout, 10.0)
            plugin.socket_read_timeout = self.timeout
            import apprise

            ok = bool(
                plugin.notify(
                    body=body, title=title, notify_type=apprise.NotifyType(kind),
                    body_format=apprise.NotifyFormat.TEXT,
                )
            )  # fmt: skip
            if ok:
                with self._lock:
                    if op_id in self._done:
                        self._done[op_id].add(i)
                return True, False, ""
            said = " / ".join(capture.lines.get(me) or ["the service refused it or did not answer"])
            return False, False, redact(said, self.urls)
        except Exception as exc:  # a plugin bug must not take the worker down with a URL in it
            return False, False, redact(f"{type(exc).__name__}: {exc}", self.urls)
        finally:
            capture.lines.pop(me, None)
            with self._lock:
                self._running.discard((op_id, i))
