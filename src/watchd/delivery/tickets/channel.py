"""Adapts a TicketBackend to the outbox's channel seam."""

from __future__ import annotations

from typing import Any

from watchd.delivery.tickets import TicketBackend, TicketIntent


class TicketChannel:
    def __init__(self, backend: TicketBackend) -> None:
        self.backend = backend

    async def deliver_row(self, kind: str, payload: dict[str, Any], op_id: int, ref: str | None) -> str:
        return await self.backend.deliver(TicketIntent.from_json({**payload, "op_id": op_id}), ref)

    async def close(self) -> None:
        await self.backend.close()
