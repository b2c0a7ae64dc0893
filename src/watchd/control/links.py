"""Acknowledge and resolve links in pages: the signing key, minting a link for a page, and acting on
a clicked one (checked, used once, acted on, all in one transaction).

The key comes from `oncall.token_key_file`/`token_key_env`; without one, watchd makes a random key
in its data directory (mode 0600) on first use, so the daemon and the CLI sign with the same key and
links survive restarts. Deleting that file revokes every link sent so far; a file shorter than 32
bytes (truncated) is no key and is replaced the same way.
"""

from __future__ import annotations

import contextlib
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
KEY_BYTES = 32


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
    for _ in range(3):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = None
        if data is not None and len(data) >= KEY_BYTES:
            return data
        if data is not None:  # truncated or emptied: no secret at all (anyone could sign), so replace it
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        _create(config.data_dir, path)
    raise OSError(f"cannot make a signing key in {path}")


def _create(data_dir: str, path: str) -> None:
    """Write a fresh key beside `path`, then link it into place: the key file appears whole or not at
    all (a reader never sees it half-written), and of two processes making it at once one wins."""
    os.makedirs(data_dir, mode=0o750, exist_ok=True)
    tmp = f"{path}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its key is the key
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


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
        raise acklink.LinkUsed
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
            raise acklink.LinkUsed
        if action == "ack":
            return actions.ack_in(db, incident_id, grant.contact, comment, now)
        return actions.resolve_in(db, incident_id, grant.contact, comment, now)
