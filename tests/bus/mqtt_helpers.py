"""Helpers for the bus tests: runner subprocesses, an independent MQTT collector, polling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt

RUNNER = Path(__file__).with_name("bus_runner.py")


class Runner:
    """A bus_runner.py subprocess; its JSON lines are read by a thread into a queue."""

    def __init__(self, host: str, mqtt: dict[str, Any]) -> None:
        self.host = host
        self.proc = subprocess.Popen(
            [sys.executable, str(RUNNER), json.dumps({"host": host, "mqtt": mqtt})],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.lines.put(json.loads(raw))

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        for line in self.seen:
            if pred(line):
                return line
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if pred(line):
                return line
        err = self.proc.stderr.read().decode() if self.proc.poll() is not None and self.proc.stderr else ""
        raise AssertionError(f"{self.host}: no matching line in {timeout}s; seen {self.seen}\n{err}")

    def drain(self, seconds: float = 0.0) -> list[dict[str, Any]]:
        """Everything printed so far (waiting `seconds` for more)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.seen.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                return self.seen

    def submits(self, check: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        return [
            line
            for line in self.drain()
            if line.get("event") == "submit"
            and (check is None or line["check"] == check)
            and (state is None or line["state"] == state)
        ]

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(10)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


class Collector:
    """An independent MQTT client recording every message on its subscriptions."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self._new = asyncio.Event()

    async def _run(self) -> None:
        async for msg in self.client.messages:
            self.messages.append(msg)
            self._new.set()

    async def wait_for(
        self, pred: Callable[[aiomqtt.Message], bool], timeout: float = 10.0, count: int = 1
    ) -> list[aiomqtt.Message]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [m for m in self.messages if pred(m)]
            if len(found) >= count:
                return found
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                topics = [(m.topic.value, m.payload) for m in self.messages]
                raise AssertionError(f"{len(found)} of {count} matching messages in {timeout}s: {topics}")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), left)

    def on(self, topic: str) -> list[Any]:
        """Decoded payloads seen on a topic, in order (None for an empty payload)."""
        out = []
        for m in self.messages:
            if m.topic.value == topic:
                out.append(json.loads(m.payload) if m.payload else None)
        return out


class _collect:
    def __init__(self, port: int, topics: tuple[str, ...], kwargs: dict[str, Any]) -> None:
        self.port, self.topics, self.kwargs = port, topics, kwargs

    async def __aenter__(self) -> Collector:
        self.client = aiomqtt.Client("127.0.0.1", self.port, **self.kwargs)
        await self.client.__aenter__()
        for t in self.topics:
            await self.client.subscribe(t, qos=1)
        self.collector = Collector(self.client)
        self.task = asyncio.ensure_future(self.collector._run())
        return self.collector

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.client.__aexit__(None, None, None)


async def eventually(pred: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        await asyncio.sleep(0.02)
