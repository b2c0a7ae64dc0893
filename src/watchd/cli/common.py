"""What every CLI command needs: the config (or a clear error and exit 1) and the state store."""

from __future__ import annotations

import os
import sys

from watchd import config as config_mod
from watchd.config import Config, ConfigError
from watchd.store import Store


def load_config(path: str) -> Config:
    try:
        return config_mod.load(path)
    except ConfigError as exc:
        print(f"watchd: invalid configuration:\n{exc}", file=sys.stderr)
        raise SystemExit(1) from None


def open_store(path: str) -> tuple[Config, Store]:
    """The config and its store; exit 1 with a message when there is no state yet."""
    cfg = load_config(path)
    if not os.path.exists(cfg.db_path):
        print(
            f"watchd: no state yet ({cfg.db_path} does not exist): is watchd running with {cfg.files[0]}?"
            "\n  (without data_dir the state is in $STATE_DIRECTORY, else /var/lib/watchd for root and"
            " ~/.local/state/watchd for other users: run both as the same user)",
            file=sys.stderr,
        )
        raise SystemExit(1)
    return cfg, Store(cfg.db_path)
