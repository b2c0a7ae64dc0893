"""The pure middle of the pipeline: the model, the soft/hard state machine, incident policy, ITIL
priority, business-hours calendars, maintenance windows, silences, escalation and SLA arithmetic.

Functions of (input, now): nothing here does I/O or reads a clock. Imports only the standard
library's pure parts and no other watchd package (tests/test_layout.py enforces both).
"""
