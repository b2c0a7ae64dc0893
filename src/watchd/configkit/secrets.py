"""Secrets (passwords, tokens) from a file or an environment variable, never inline in the config.

Relative file paths are resolved against the config directory. Values are never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MAX_SECRET_BYTES = 64 * 1024


class SecretError(ValueError):
    """The secret could not be read; the message says where it was looked for, never its value."""


@dataclass(frozen=True, slots=True)
class Secret:
    file: str | None = None
    env: str | None = None

    def describe(self) -> str:
        return f"file {self.file}" if self.file else f"environment variable {self.env}"

    def read(self) -> str:
        """The secret without its trailing newline; SecretError if missing or empty."""
        if self.file is not None:
            try:
                with open(self.file, "rb") as f:
                    raw = f.read(MAX_SECRET_BYTES)
            except OSError as exc:
                raise SecretError(f"cannot read secret file {self.file}: {exc.strerror}") from None
            value = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        else:
            value = os.environ.get(self.env or "", "")
        if not value:
            raise SecretError(f"secret in {self.describe()} is empty or missing")
        return value


def read_secret(file: object, env: object, base_dir: str) -> str:
    """Read `<key>_file` or `<key>_env` as given in a config mapping (exactly one of them)."""
    if file is not None and env is not None:
        raise SecretError("give a _file or an _env secret, not both")
    if file is not None:
        return Secret(file=os.path.join(base_dir, str(file))).read()
    if env is not None:
        return Secret(env=str(env)).read()
    raise SecretError("no secret given")
