"""Reports of real days: what the records (or a queue_log) say happened, in the
simulator's columns, so a planner reads a live day and a simulated one alike."""
