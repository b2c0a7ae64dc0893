"""Acknowledge and resolve links in pages: the signing key, minting a link for a page, and acting on
a clicked one (checked, used once, acted on, all in one transaction).

The key comes from `oncall.token_key_file`/`token_key_env`; without one, watchd makes a random key
in its data directory (mode 0600) on first use, so the daemon and the CLI sign with the same key and
links survive restarts. Deleting that file revokes every link sent so far.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from watchd.config import Config
from watchd.control import actions
from watchd.core import acklink
from watchd.core.model import Incident
from watchd.store import Store
from watchd.store import paging as paging_store

KEY_FILE = "link.key"


@dataclass(frozen=True, slots=True)
class Links:
    """What a notifier needs to put links into a page: None `base` means links are off."""

    base: str
    key: bytes
    ttl: float

    def url(self, incident_id: int, action: str, contact: str, issued_at: float, seed: str) -> str:
        token = acklink.mint(self.key, incident_id, action, contact, issued_at + self.ttl, seed)
        return self.base.rstrip("/") + acklink.path(incident_id, action, token)


def key(config: Config) -> bytes:
    configured = config.oncall.token_key
    if configured:
        return configured
    path = os.path.join(config.data_dir, KEY_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    os.makedirs(config.data_dir, mode=0o750, exist_ok=True)
    fresh = secrets.token_bytes(32)
    try:  # O_EXCL: of two processes making the key at once, one wins and both read its key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, "rb") as f:
            return f.read()
    with os.fdopen(fd, "wb") as f:
        f.write(fresh)
    return fresh


def links(config: Config) -> Links | None:
    o = config.oncall
    if not o.public_url:
        return None
    return Links(o.public_url, key(config), o.ack_ttl)


def check(
    link_key: bytes, store: Store, incident_id: int, action: str, token: str, now: float
) -> acklink.Grant:
    """The grant of a link that could act now (for the confirmation page); LinkError otherwise."""
    grant = acklink.verify(link_key, token, incident_id, action, now)
    used = store.db.execute("SELECT 1 FROM link_uses WHERE nonce = ?", (grant.nonce,)).fetchone()
    if used:
        raise acklink.LinkError("this link has already been used")
    return grant


def act(
    link_key: bytes, store: Store, incident_id: int, action: str, token: str, now: float, via: str = ""
) -> Incident:
    """Acknowledge or resolve through a clicked link. Raises LinkError for a bad or used link and
    ActionError when the incident cannot take the action any more (already acknowledged, resolved)."""
    grant = acklink.verify(link_key, token, incident_id, action, now)
    comment = f"from the link in a page{via}"
    with store.transaction() as db:
        if not paging_store.use_link(db, grant.nonce, incident_id, action, grant.contact, now):
            raise acklink.LinkError("this link has already been used")
        if action == "ack":
            return actions.ack_in(db, incident_id, grant.contact, comment, now)
        return actions.resolve_in(db, incident_id, grant.contact, comment, now)
