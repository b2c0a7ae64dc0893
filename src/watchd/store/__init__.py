"""Persistence in SQLite (the embedded default): check statuses and their change log (`db`), incidents
and their timeline (`incidents`). The store persists; it decides nothing. May import `core` only."""

from watchd.store.db import Store

__all__ = ["Store"]
