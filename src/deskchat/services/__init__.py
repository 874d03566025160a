"""Use cases: one function per action, each in one unit of work."""
