"""Pure logic behind the bundled plugins in `checks/`, importable so it is unit-tested and not duplicated.

Standard library only: the plugins must also run under the system python3 from Nagios or Icinga.
"""
