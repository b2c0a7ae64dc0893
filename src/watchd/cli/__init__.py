"""The command line: `main` parses arguments and hands them to the daemon or to one module per
command group (incidents, maintenance, sla). May import everything but `api`'s server."""

from watchd.cli.main import main

__all__ = ["main"]
