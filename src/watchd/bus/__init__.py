"""MQTT bus: results, state, incidents and heartbeats out; peers watched; signed commands in.

`Bus` is the one object the daemon owns (see watchd.bus.bus and docs/mqtt.md). The pure parts live in
topics, payloads, buffer, fleet (liveness and election) and commands (verification); `publisher`
turns the pipeline's batches into messages. May import `core`, `configkit` and `pipeline`.
"""

from typing import Any

from watchd.bus.commands import CommandHandler
from watchd.bus.config import MqttConfig, read_mqtt

__all__ = ["Bus", "BusStats", "CommandHandler", "MqttConfig", "read_mqtt"]


def __getattr__(name: str) -> Any:
    """`Bus` and `BusStats` load aiomqtt: only when asked for, so reading config stays light."""
    if name in ("Bus", "BusStats"):
        from watchd.bus import bus

        return getattr(bus, name)
    raise AttributeError(name)
