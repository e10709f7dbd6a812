"""Model lifecycle: stages, aliases and the release gate (experiments beside them)."""
