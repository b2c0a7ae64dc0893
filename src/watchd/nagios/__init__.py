"""The Nagios plugin API: threshold ranges, perfdata and plugin output, as Nagios Core 4 reads them.

Pure (tests/test_layout.py enforces it); may import `core` only."""
