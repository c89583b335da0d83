"""The pure core: the agent state machine and the zone (no I/O; docs/architecture.md)."""
