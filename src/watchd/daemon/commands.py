"""Commands from outside the process (signed MQTT commands) applied to the running daemon, through
the same `control.actions` the CLI and the HTTP API use. Implements `watchd.bus.CommandHandler`."""

from __future__ import annotations

from collections.abc import Callable

from watchd.control import actions
from watchd.core.clock import Clock
from watchd.store import Store


class DaemonCommands:
    def __init__(
        self,
        store: Callable[[], Store],
        clock: Clock,
        run_now: Callable[[str], bool],
        kick: Callable[[], None],
    ) -> None:
        """`store()` is the daemon's open store; `run_now(check)` queues a run; `kick()` wakes the
        outbox deliverer for the ticket updates an action queued, and the bus mirror."""
        self._store = store
        self._clock = clock
        self._run_now = run_now
        self._kick = kick

    async def run_now(self, check: str) -> bool | str:
        return self._run_now(check) or f"no check {check!r}"

    async def ack(self, incident_id: int, by: str, comment: str) -> bool | str:
        try:
            actions.ack(self._store(), incident_id, by, comment, self._clock.time())
        except actions.ActionError as exc:
            return str(exc)
        self._kick()
        return True

    async def silence(self, check: str, until: float, comment: str, by: str = "mqtt") -> bool | str:
        now = self._clock.time()
        try:
            actions.add_silence(self._store(), check, now, until, by, comment, now)
        except actions.ActionError as exc:
            return str(exc)
        self._kick()  # the silence shows in the bus's maintenance snapshot
        return True

    async def downtime(
        self, scope: str, target: str, start: float, until: float, comment: str, by: str
    ) -> bool | str:
        now = self._clock.time()
        try:
            actions.add_downtime(self._store(), scope, target, start, until, by, comment, False, now)
        except actions.ActionError as exc:
            return str(exc)
        self._kick()
        return True
