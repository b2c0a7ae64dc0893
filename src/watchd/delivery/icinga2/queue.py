"""The bounded backlog between the pipeline and Icinga. Pure: no I/O, no clock.

`put` is O(1) and never blocks: when the backlog is full the oldest result is dropped (counted), as
the MQTT buffer does. The sender `take`s a round from the front, at most one result per Icinga object
so that results for one service stay in order even with several requests in flight, and `give_back`s
what could not be sent, in front, in the order it was taken.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass

from watchd.delivery.icinga2.payload import Target


@dataclass(frozen=True, slots=True)
class Item:
    target: Target
    body: bytes
    check: str


class Backlog:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._items: collections.deque[Item] = collections.deque()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Item) -> None:
        if len(self._items) >= self.size:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)

    def take(self, limit: int) -> list[Item]:
        """Up to `limit` items from the front, stopping before a second item for the same object."""
        out: list[Item] = []
        seen: set[Target] = set()
        while self._items and len(out) < limit and self._items[0].target not in seen:
            item = self._items.popleft()
            seen.add(item.target)
            out.append(item)
        return out

    def give_back(self, items: Sequence[Item]) -> None:
        """Unsent items go back in front; if results arrived meanwhile and it overflows, the oldest go."""
        self._items.extendleft(reversed(items))
        while len(self._items) > self.size:
            self._items.popleft()
            self.dropped += 1

    def clear(self) -> int:
        n = len(self._items)
        self._items.clear()
        return n
