"""A real daemon in-process with the API on a free port, and an HTTP client that talks to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from apihelpers import Client, Env, Host, api_config

from watchd.api.server import ApiServer


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    host = Host(tmp_path)
    d = host.daemon()
    await d.start()
    api = ApiServer(d, api_config(host))
    await api.start()
    async with aiohttp.ClientSession() as session:
        yield Env(host, d, api, Client(session, f"http://127.0.0.1:{api.port}"))
    await api.stop()
    await d.stop()
