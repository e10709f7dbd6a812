"""Real external processes for tests (redis-server, tritonserver) on free ports."""
