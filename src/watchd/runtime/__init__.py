"""The process's own plumbing, shared by the edges: the system clock, logging set-up, sd_notify and
the crash points of the crash tests. May import `core` only."""
