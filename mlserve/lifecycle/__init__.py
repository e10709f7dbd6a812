"""Model lifecycle: stages, aliases and the release gate; experiments with sequential
decisions; per-model monitoring."""
