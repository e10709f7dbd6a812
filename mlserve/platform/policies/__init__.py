"""Online decision (RL policy) models: contextual bandits that learn from feedback.

``contract`` validates what a client declares and sends; ``linear`` holds the per-action
sufficient statistics and the ridge fit; ``selection`` the three policies (epsilon-greedy
with decay, LinUCB, linear Thompson sampling); ``ledger`` keeps the learning state durable
and shared in the :class:`~mlserve.platform.store.StateStore`; ``rl_metrics`` folds the
ledger into the ``GET /api/v1/metrics/rl`` answer; ``service`` ties them together.
"""
