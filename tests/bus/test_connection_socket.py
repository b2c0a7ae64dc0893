"""The bus's socket sends at once (TCP_NODELAY): a QoS 1 publish right after a QoS 0 one would
otherwise wait for the broker's delayed ACK of the first, 40 ms on Linux, per state change."""

from __future__ import annotations

import asyncio
import random
import socket

import aiomqtt

from servers.mosquitto import Mosquitto
from watchd.bus.config import Broker, MqttConfig
from watchd.bus.connection import Connection


async def test_the_socket_has_nodelay(broker: Mosquitto) -> None:
    seen: list[int] = []

    async def session(client: aiomqtt.Client) -> None:
        sock = client._client.socket()
        assert sock is not None
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        conn.stopping.set()

    cfg = MqttConfig(brokers=(Broker("127.0.0.1", broker.port),))
    conn = Connection(cfg, "nodelay-test", aiomqtt.Will("x/status", b""), session, random.Random(1))
    await asyncio.wait_for(conn.run(), 15)
    assert seen
    assert seen[0] != 0
