"""The running daemon: wires every part (`daemon`), decides when checks run (`scheduler`), drives
what happens because time passes (`followup`), reads per-check policy from the config (`routing`)
and applies commands from outside (`commands`). The only package that may import all the others."""

from watchd.daemon.daemon import Daemon

__all__ = ["Daemon"]
