from __future__ import annotations

import pytest
from checkhelpers import RunCheck, run_plugin


@pytest.fixture
def run_check() -> RunCheck:
    """Run a bundled plugin from checks/ as a subprocess: `run_check("check_x", "--opt", value)`."""
    return run_plugin
