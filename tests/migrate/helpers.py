"""What the importer tests share: the fixture configs and ways to look at a migration."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from watchd.migrate.model import Check, Migration

FIXTURES = Path(__file__).parent / "fixtures"

Validate = Callable[[Migration, bool], subprocess.CompletedProcess[str]]


def by_name(m: Migration) -> dict[str, Check]:
    return {c.name: c for c in m.checks}


def findings(m: Migration, skipped: bool = True) -> list[str]:
    """Findings as 'FILE-BASENAME:LINE: subject: message' for stable comparison."""
    out = []
    for f in m.findings:
        if f.skipped != skipped:
            continue
        where = f"{Path(f.origin.file).name}:{f.origin.line}: " if f.origin else ""
        message = re.sub(r"/[^\s():]*/(?=[^/\s]+\.(?:conf|cfg))", "", f.message)  # file names inside messages
        out.append(f"{where}{f.subject}: {message}")
    return out
