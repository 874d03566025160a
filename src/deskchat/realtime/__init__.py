"""Live delivery: the broker between processes, the hub of this process's sockets, frame parsing."""
