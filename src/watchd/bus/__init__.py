"""MQTT bus: results, state, incidents and heartbeats out; peers watched; signed commands in.

`Bus` is the one object the daemon owns (see watchd.bus.bus and docs/mqtt.md). The pure parts live in
topics, payloads, buffer, fleet (liveness and election), commands (verification) and snapshots (the
retained incident and maintenance snapshots); `publisher` turns the pipeline's batches into messages,
`mirror` keeps the retained snapshots in step with a source the daemon gives it. May import `core`,
`configkit` and `pipeline`.
"""

from typing import TYPE_CHECKING, Any

from watchd.bus.config import MqttConfig, read_mqtt

if TYPE_CHECKING:
    from watchd.bus.bus import Bus, BusStats
    from watchd.bus.commands import CommandHandler

__all__ = ["Bus", "BusStats", "CommandHandler", "MqttConfig", "read_mqtt"]


def __getattr__(name: str) -> Any:
    """`Bus` and `BusStats` load aiomqtt, `CommandHandler` hmac and json: only when asked for, so
    reading a config without `mqtt:` stays light."""
    if name in ("Bus", "BusStats"):
        from watchd.bus import bus

        return getattr(bus, name)
    if name == "CommandHandler":
        from watchd.bus import commands

        return commands.CommandHandler
    raise AttributeError(name)
