"""The fleet console: `watchd console` (docs/console.md).

Reads the bus (bus), keeps history in SQLite, renders pages with Jinja2 and graphs as SVG. May import
core, nagios, configkit, bus and reports (the table in tests/test_layout.py says the same).
"""
