"""`watchd import`: read a Nagios Core, Icinga 2 or NRPE configuration and describe it as watchd checks.

One module per source format (`nagios_*`, `icinga2_*`, `nrpe`), each a pure parser over text plus a thin
walker that reads the files it names; `commandline` turns a command line into argv without a shell;
`model` is what every format produces; `yamlout` writes it as a commented watchd config. What cannot be
translated becomes a `Finding` with file:line, never a silent drop. May import `core`, `nagios`,
`configkit` and `config`.
"""
