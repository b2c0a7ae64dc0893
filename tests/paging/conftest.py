"""Fixtures for the paging channels: the PagerDuty and Opsgenie stand-ins on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .standins.opsgenie import OpsgenieStandIn
from .standins.pagerduty import PagerDutyStandIn


@pytest.fixture
async def pagerduty_standin() -> AsyncIterator[PagerDutyStandIn]:
    """The Events API v2 stand-in; `.url` is its enqueue URL, `.violations` what it refused."""
    standin = PagerDutyStandIn()
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def opsgenie_standin() -> AsyncIterator[OpsgenieStandIn]:
    """The Alert API stand-in; `.url` is its base URL (as api.opsgenie.com), `.violations` what it refused."""
    standin = OpsgenieStandIn()
    await standin.start()
    yield standin
    await standin.stop()
