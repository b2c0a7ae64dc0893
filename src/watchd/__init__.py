"""watchd: a monitoring and alerting daemon for managed hosting."""

__version__ = "0.1.0"
