"""The fleet console: `watchd console`.

May import core and nagios (the table in tests/test_layout.py says the same).
"""
