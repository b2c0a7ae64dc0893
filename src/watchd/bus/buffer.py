"""The bounded outgoing buffer between the pipeline and the MQTT connection. Pure: no I/O, no clock.

Everything the bus publishes (except heartbeats, which are worthless late) goes through here, so the
pipeline never waits for the network: `put` is O(1), never blocks and never raises. A sender task takes
messages from the front while connected (`peek`, publish, `done`), so after a broker outage they go out
in the order they were made.

Bounded to `size` messages. Kinds:
- RESULT: every check result; when the buffer is full the *oldest result* is dropped first (counted).
- STATE: coalesced by key (one per check, the host's own status, each retained incident snapshot, the
  maintenance snapshot): a newer state replaces the queued one and moves to the back, so only the
  newest state per key is kept, in the order of the latest.
- EVENT: incident lifecycle and resolutions, command answers; never coalesced. Dropped (oldest first,
  counted) only when the buffer is full of states and events alone, which takes more checks than `size`.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    RESULT = "result"
    STATE = "state"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: Kind
    key: str | None = None  # STATE only: what it coalesces with


class OfflineBuffer:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._items: collections.OrderedDict[int, Message] = collections.OrderedDict()
        self._by_key: dict[str, int] = {}
        self._results: collections.deque[int] = collections.deque()  # seqs of queued results, oldest first
        self._seq = 0
        self.dropped: collections.Counter[str] = collections.Counter()  # by kind
        self.coalesced = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, msg: Message) -> int | None:
        """Queue msg; its ticket (as `peek` gives it), or None if it was dropped at once."""
        if msg.kind is Kind.STATE and msg.key is not None:
            old = self._by_key.pop(msg.key, None)
            if old is not None:
                del self._items[old]
                self.coalesced += 1
        if len(self._items) >= self.size and not self._make_room(msg):
            self.dropped[msg.kind.value] += 1
            return None
        self._seq += 1
        self._items[self._seq] = msg
        if msg.kind is Kind.RESULT:
            self._results.append(self._seq)
        elif msg.kind is Kind.STATE and msg.key is not None:
            self._by_key[msg.key] = self._seq
        return self._seq

    def _make_room(self, incoming: Message) -> bool:
        """Drop one queued message to make room; False means drop the incoming one instead."""
        while self._results:
            seq = self._results.popleft()
            if seq in self._items:  # not already sent
                del self._items[seq]
                self.dropped[Kind.RESULT.value] += 1
                return True
        if incoming.kind is Kind.RESULT:
            return False  # the incoming result is the oldest result there is
        seq, victim = next(iter(self._items.items()))
        self._remove(seq, victim)
        self.dropped[victim.kind.value] += 1
        return True

    def peek(self) -> tuple[int, Message] | None:
        """The next message to send, with a ticket for `done`; it stays queued until then."""
        if not self._items:
            return None
        return next(iter(self._items.items()))

    def done(self, seq: int) -> None:
        """The message was published. A no-op if it was meanwhile coalesced away or dropped."""
        msg = self._items.get(seq)
        if msg is not None:
            self._remove(seq, msg)
        if self._results and self._results[0] == seq:
            self._results.popleft()

    def queued(self, seq: int) -> bool:
        """Still waiting to be published (not sent, dropped nor coalesced away)."""
        return seq in self._items

    def withdraw(self, seq: int) -> None:
        """Take a message back unsent (its sender gave up waiting for it)."""
        msg = self._items.get(seq)
        if msg is not None:
            self._remove(seq, msg)

    def holds(self, key: str) -> bool:
        """A state under `key` is queued."""
        return key in self._by_key

    def discard(self, key: str) -> None:
        """Forget the queued state under `key` (it is about to be published fresh)."""
        seq = self._by_key.get(key)
        if seq is not None:
            self._remove(seq, self._items[seq])

    def _remove(self, seq: int, msg: Message) -> None:
        del self._items[seq]
        if msg.key is not None and self._by_key.get(msg.key) == seq:
            del self._by_key[msg.key]
