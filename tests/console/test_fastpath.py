"""ReadAhead serves paho's small reads from one large recv, keeps stream order across chunk
boundaries, and reports end of stream and would-block exactly as the socket does."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import aiomqtt
import pytest

from servers.mosquitto import Mosquitto, available, start_mosquitto
from watchd.bus.connection import NODELAY
from watchd.console.fastpath import CHUNK, ReadAhead, direct


def pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    return a, b


def test_small_reads_come_from_one_recv_in_order() -> None:
    a, b = pair()
    data = bytes(range(256)) * 40
    b.sendall(data)
    ra = ReadAhead(a)
    got = bytearray()
    while len(got) < len(data):
        got += ra.recv(7)
    assert bytes(got) == data
    assert ra.pending() == 0
    with pytest.raises(BlockingIOError):
        ra.recv(1)  # nothing buffered, nothing on the socket: paho's MQTT_ERR_AGAIN
    b.close()
    assert ra.recv(1) == b""  # end of stream stays visible
    a.close()


def test_pending_counts_buffered_bytes_and_reads_cross_chunks() -> None:
    a, b = pair()
    data = b"x" * (CHUNK + 10)
    b.sendall(data)
    ra = ReadAhead(a)
    first = ra.recv(1)
    assert first == b"x"
    assert ra.pending() > 0
    # a read larger than what is buffered returns what is there; paho reads on for the rest
    rest = bytearray()
    while len(rest) < len(data) - 1:
        rest += ra.recv(CHUNK * 2)
    assert len(rest) == len(data) - 1
    assert ra.fileno() == a.fileno()  # everything else is the socket's
    a.close()
    b.close()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_real_connection_delivers_every_message_in_order(tmp_path: Path, tls: bool) -> None:
    """Through mosquitto: 3,000 messages of 10 B to 200 KB (some larger than a chunk, QoS 0 and 1),
    published in bursts, arrive whole and in order through `direct`'s callback."""
    if why := available():
        pytest.skip(why)
    with start_mosquitto(tmp_path / "broker", tls=tls) as broker:
        asyncio.run(_deliver(broker))


async def _deliver(broker: Mosquitto) -> None:
    ctx = None
    if broker.pki is not None:
        ctx = ssl.create_default_context(cafile=str(broker.pki.ca))
    sizes = [10 + (i * 7919) % 2000 if i % 100 else 200_000 for i in range(3000)]
    sent = [(f"t/{i % 17}", bytes([i % 251]) * n) for i, n in enumerate(sizes)]
    got: list[tuple[str, bytes]] = []
    done = asyncio.Event()

    def on_message(_client: object, _userdata: object, msg: object) -> None:
        got.append((msg.topic, msg.payload))  # type: ignore[attr-defined]
        if len(got) == len(sent):
            done.set()

    kw: dict[str, object] = {"hostname": broker.host, "port": broker.port, "tls_context": ctx,
                             "socket_options": (NODELAY,)}  # fmt: skip
    async with aiomqtt.Client(**kw) as sub, aiomqtt.Client(**kw) as pub:  # type: ignore[arg-type]
        assert direct(sub, on_message), "aiomqtt's internals changed: the console's fast path is off"
        await sub.subscribe("t/#", qos=1)
        for i, (topic, payload) in enumerate(sent):
            await pub.publish(topic, payload, qos=1 if i % 10 == 0 else 0)
        await asyncio.wait_for(done.wait(), 30)
    assert [t for t, _ in got] == [t for t, _ in sent]
    assert got == sent
