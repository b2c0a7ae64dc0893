"""Fixtures shared by the source tests: a build context, test certificates, closing HTTP sessions."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from watchd.sources import BuildContext
from watchd.sources.probes.session import close_shared_sessions

from .certs import Pki, make_pki


@pytest.fixture
def ctx(tmp_path: Path) -> BuildContext:
    return BuildContext(host="monitor.test", config_dir=str(tmp_path), secrets_dir=str(tmp_path / "secrets"))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def shared_sessions() -> AsyncIterator[None]:
    """HTTP probes share one session per loop: close it before the test's loop goes away."""
    yield
    await close_shared_sessions()


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (bound then released), for "connection refused"."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
