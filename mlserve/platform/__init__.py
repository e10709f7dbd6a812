"""The ``/api/v1`` platform: accounts, A/B routing, materialization, webhooks, feedback.

Domain code only (no FastAPI): the routes in ``mlserve.control_plane.routes.api_v1`` call
:class:`~mlserve.platform.services.PlatformServices`. State lives in a
:class:`~mlserve.platform.store.StateStore` (Redis when configured, else SQLite).
"""
