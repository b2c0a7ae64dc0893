"""MQTT bus: results, state, incidents and heartbeats out; peers watched; signed commands in.

`Bus` is the one object the daemon owns (see watchd.bus.bus and docs/mqtt.md). The pure parts live in
topics, payloads, buffer, fleet (liveness and election) and commands (verification).
"""

from watchd.bus.bus import Bus, BusStats
from watchd.bus.commands import CommandHandler
from watchd.bus.config import MqttConfig, read_mqtt

__all__ = ["Bus", "BusStats", "CommandHandler", "MqttConfig", "read_mqtt"]
