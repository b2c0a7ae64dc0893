"""How the console takes a fleet's traffic off the socket: thousands of small messages a second.

Left alone, aiomqtt and paho spend most of the console's CPU around each message rather than on it:
paho reads a packet with three or four `recv` calls (command byte, length bytes, body), the event
loop turns once per packet (aiomqtt's reader reads one packet per readiness event), and aiomqtt wraps
each message and queues it. Measured at 10,000 hosts x 20 checks (bench/console_fleet.py), those
costs were most of the console's 25 % of a core. Here:

- `ReadAhead` stands in for paho's socket and reads up to 64 KiB per `recv`, serving paho's small
  reads from that buffer; it reports the buffered bytes as `pending()`, which aiomqtt's reader
  already honours (for TLS sockets) by reading on, so one readiness event drains every whole packet
  that arrived together;
- `direct` takes messages from paho's `on_message` callback instead of aiomqtt's queue.

Both use paho's documented socket contract (non-blocking `recv` raising BlockingIOError, b"" at end
of stream) and two attributes of aiomqtt's client; if either library changes them, `direct` leaves
the client as it is and messages take aiomqtt's way (slower, still correct).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiomqtt

CHUNK = 65536


class ReadAhead:
    """A socket whose `recv` reads ahead. Everything else is the wrapped socket's."""

    __slots__ = ("_buf", "_pos", "_sock")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        buf: bytes = self._buf
        pos = self._pos
        if pos >= len(buf):
            buf = self._sock.recv(CHUNK)  # BlockingIOError / ssl.SSLWantReadError as paho expects
            if not buf:
                return buf  # end of stream
            pos = 0
        end = pos + bufsize
        self._buf, self._pos = buf, end
        return buf[pos:end]

    def pending(self) -> int:
        """Bytes readable without waiting for the socket: the buffer's, and TLS's decoded ones."""
        inner = getattr(self._sock, "pending", None)
        return max(len(self._buf) - self._pos, 0) + (inner() if inner else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def direct(client: aiomqtt.Client, on_message: Callable[[Any, Any, Any], None]) -> bool:
    """Route `client`'s incoming messages to `on_message(paho_client, userdata, paho_message)`,
    read ahead. Call right after the connection is up (the socket is paho's by then) and before
    subscribing. The callback runs on the event loop, one message at a time. False when the
    client's internals are not what this expects (nothing is changed then)."""
    paho = getattr(client, "_client", None)
    sock = getattr(paho, "_sock", None)
    if paho is None or sock is None or not hasattr(sock, "recv"):
        return False
    if not isinstance(sock, ReadAhead):
        paho._sock = ReadAhead(sock)
    paho.on_message = on_message
    return True
