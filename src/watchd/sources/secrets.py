"""Secrets for built-in checks (HTTP passwords, bearer tokens): from a file or an environment variable.

Config files never need to hold a secret inline: a check names `<key>_file` or `<key>_env`, and an
inline `<key>` is refused. Files are read at every use, so a rotated token needs no reload; relative
paths are resolved against the secrets directory (or the config directory when there is none).
"""

from __future__ import annotations

import os

from watchd.configkit.secrets import Secret, SecretError
from watchd.sources import BuildContext
from watchd.sources.params import Params

__all__ = ["Secret", "SecretError", "secret_param"]


def secret_param(p: Params, key: str, ctx: BuildContext, *, required: bool) -> Secret | None:
    """Read `<key>_file` / `<key>_env` (exactly one); an inline `<key>` is a config error."""
    if p.has(key):
        p.raw(key)
        raise p.error(key, f"inline secrets are not accepted: use {key}_file or {key}_env")
    path = p.text(f"{key}_file")
    env = p.text(f"{key}_env")
    if path is not None and env is not None:
        raise p.error(f"{key}_env", f"give {key}_file or {key}_env, not both")
    if path is not None:
        base = ctx.secrets_dir or ctx.config_dir
        return Secret(file=os.path.join(base, path))
    if env is not None:
        return Secret(env=env)
    if required:
        raise p.error(f"{key}_file", f"required (or {key}_env)")
    return None
