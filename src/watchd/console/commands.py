"""Commands from the browser to a host: signed with the fleet's command secret (bus/commands.py), so the
host verifies them exactly as it verifies any other, and answered on the host's `command_result`.

`send` publishes and waits (up to `timeout`) for the answer with the same nonce. Every command and its
answer is kept in `recent` (newest first), so the dashboard can show what was asked and what the host
said, including a host that never answered.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from watchd.bus import commands as signed
from watchd.bus.topics import Topics


@dataclass(slots=True)
class Sent:
    host: str
    verb: str
    args: dict[str, Any]
    by: str
    at: float
    nonce: str
    ok: bool | None = None  # None: no answer (yet)
    reason: str = "waiting for the host"
    answered_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class CommandSender:
    def __init__(
        self,
        secret: bytes | None,
        prefix: str,
        publish: Callable[[str, bytes], Awaitable[None]],
        now: Callable[[], float],
        keep: int = 200,
    ) -> None:
        self.secret = secret
        self.prefix = prefix
        self._publish = publish
        self._now = now
        self._pending: dict[str, Sent] = {}
        self.recent: deque[Sent] = deque(maxlen=keep)

    @property
    def enabled(self) -> bool:
        return self.secret is not None

    async def send(self, host: str, verb: str, args: dict[str, Any], by: str, timeout: float) -> Sent:
        if self.secret is None:
            raise RuntimeError("commands need mqtt.command_secret_file in the console config")
        now = self._now()
        sent = Sent(host, verb, args, by, now, secrets.token_hex(16))
        payload = signed.sign(self.secret, host, verb, args, now, sent.nonce)
        self.recent.appendleft(sent)
        self._pending[sent.nonce] = sent
        try:
            await self._publish(Topics(self.prefix, host).command(verb), payload)
            try:
                await asyncio.wait_for(sent.done.wait(), timeout)
            except TimeoutError:
                sent.reason = (
                    f"no answer from {host} within {timeout:g}s (offline, or not configured for commands)"
                )
        except ConnectionError as exc:
            sent.ok, sent.reason = False, f"not sent: {exc}"
        finally:
            self._pending.pop(sent.nonce, None)
        return sent

    def answer(self, host: str, doc: dict[str, Any]) -> None:
        """A `command_result` from `host`; only the host a command went to can answer it."""
        nonce = doc.get("nonce")
        sent = self._pending.get(nonce) if isinstance(nonce, str) else None
        if sent is None or sent.host != host:
            return
        sent.ok = doc.get("ok") is True
        reason = doc.get("reason")
        sent.reason = reason if isinstance(reason, str) else ("done" if sent.ok else "refused")
        sent.answered_at = self._now()
        sent.done.set()
