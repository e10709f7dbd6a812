"""Model lifecycle: experiments, sequential decisions, per-model monitoring."""
