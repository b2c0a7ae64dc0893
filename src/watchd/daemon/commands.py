"""Commands from outside the process (MQTT now) applied to the running daemon, through the same
`actions` the CLI and the HTTP API use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchd.control import actions

if TYPE_CHECKING:
    from watchd.daemon import Daemon


class DaemonCommands:
    """Implements watchd.bus.CommandHandler."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

    async def run_now(self, check: str) -> bool:
        return self.d.scheduler.run_now(check)

    async def ack(self, incident_id: int, by: str, comment: str) -> bool:
        assert self.d.store is not None
        try:
            actions.ack(self.d.store, incident_id, by, comment, self.d.clock.time())
        except actions.ActionError:
            return False
        self.d.kick()
        return True

    async def silence(self, check: str, until: float, comment: str) -> bool:
        assert self.d.store is not None
        now = self.d.clock.time()
        try:
            actions.add_silence(self.d.store, check, now, until, "mqtt", comment, now)
        except actions.ActionError:
            return False
        return True
