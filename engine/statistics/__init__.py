"""Statistics over per-client metric frames, looked up by config name in `registry.STATISTICS`."""
