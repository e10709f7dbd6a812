"""All platform services wired together over one state store.

:meth:`PlatformServices.build` is the one place that decides what talks to what; the
routes only receive this object. ``startup()`` checks the store (reachable, and unable to
evict or forget), creates the first admin from the settings and starts the webhook worker
(which resumes pending deliveries); ``shutdown()`` stops the worker and closes the store.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher

from mlserve.errors import ServiceUnavailableError
from mlserve.platform.abtest import ABTestService
from mlserve.platform.account_flows import AccountFlows
from mlserve.platform.account_links import AccountLinks
from mlserve.platform.auth import UserService
from mlserve.platform.bootstrap import ensure_initial_admin
from mlserve.platform.config import PlatformConfig
from mlserve.platform.data_quality import DataQualityService
from mlserve.platform.deploy_runner import DeployRunner
from mlserve.platform.deployments import DeploymentService
from mlserve.platform.feedback import FeedbackService
from mlserve.platform.login_limits import LoginThrottle, PasswordWork
from mlserve.platform.mail import Mailer, SmtpMailer
from mlserve.platform.materialize import Materializer
from mlserve.platform.mlflow_deploys import MlflowDeploys
from mlserve.platform.model_views import ModelViews
from mlserve.platform.oidc import OidcLogin
from mlserve.platform.policies.service import OnlinePolicyService
from mlserve.platform.prediction_log import PredictionLog
from mlserve.platform.prediction_service import PredictionService
from mlserve.platform.protocols import Deployer, ModelCatalog, ModelLifecycle, PredictCore
from mlserve.platform.store import StateStore, open_store
from mlserve.platform.upload_sandbox import UploadSandbox
from mlserve.platform.url_safety import Resolver
from mlserve.platform.webhook_worker import WebhookWorker
from mlserve.platform.webhooks import WebhookService


@dataclass
class PlatformServices:
    """The platform's services, sharing one :class:`StateStore`."""

    config: PlatformConfig
    store: StateStore
    users: UserService
    abtests: ABTestService
    models: ModelViews
    materializer: Materializer
    webhooks: WebhookService
    webhook_worker: WebhookWorker
    predictions: PredictionLog
    prediction_service: PredictionService
    feedback: FeedbackService
    deployments: DeploymentService
    deploy_runner: DeployRunner
    data_quality: DataQualityService
    online: OnlinePolicyService
    accounts: AccountFlows
    oidc: OidcLogin
    upload_sandbox: UploadSandbox
    mlflow: MlflowDeploys | None = None
    """MLflow imports (``model_uri`` deploys); set by the control plane's addons."""

    @classmethod
    def build(
        cls,
        config: PlatformConfig,
        *,
        deployer: Deployer,
        lifecycle: ModelLifecycle,
        predictor: PredictCore,
        model_catalog: ModelCatalog,
        store: StateStore | None = None,
        password_hasher: PasswordHasher | None = None,
        resolver: Resolver | None = None,
        worker_options: dict[str, Any] | None = None,
    ) -> PlatformServices:
        """Wire everything; ``store`` defaults to :func:`open_store` (Redis or SQLite).
        ``password_hasher``, ``resolver`` and ``worker_options`` exist for tests."""
        store = store or open_store(config)
        mailer: Mailer | None = SmtpMailer(config.mail) if config.mail else None
        users = UserService(
            store,
            token_ttl_seconds=config.token_ttl_seconds,
            token_cache_seconds=config.token_cache_seconds,
            hasher=password_hasher,
            inactive_hint=(
                "open the verification link e-mailed to you, or ask an admin to activate it"
                if mailer
                else "this server sends no e-mail, an admin must activate it"
            ),
            throttle=LoginThrottle(
                per_user=config.login_failures_per_user,
                per_client=config.login_failures_per_client,
                window_seconds=config.login_window_seconds,
            ),
            password_work=PasswordWork(slots=config.password_hash_concurrency),
        )
        deployments = DeploymentService(store)

        async def states(name: str) -> dict[int, bool]:
            return {v.version: v.active for v in await model_catalog.versions(name)}

        abtests = ABTestService(store, states)
        models = ModelViews(model_catalog, lifecycle, abtests, deployments)
        # In the state store (Redis or SQLite), so every worker and replica fetches what
        # another one materialized.
        materializer = Materializer(
            store, ttl_seconds=config.materialize_ttl_seconds, backend=store.backend
        )
        webhooks = WebhookService(
            store,
            allow_private=config.webhook_allow_private,
            max_attempts=config.webhook_max_attempts,
            resolver=resolver,
        )
        worker = WebhookWorker(
            webhooks,
            **{
                "timeout_s": config.webhook_timeout_s,
                "lease_s": config.webhook_lease_s,
                **(worker_options or {}),
            },
        )
        predictions = PredictionLog(store, max_size=config.prediction_log_size)
        data_quality = DataQualityService(store, predictions, model_catalog)
        return cls(
            config=config,
            store=store,
            users=users,
            abtests=abtests,
            models=models,
            materializer=materializer,
            webhooks=webhooks,
            webhook_worker=worker,
            predictions=predictions,
            prediction_service=PredictionService(predictor, predictions, materializer, webhooks),
            feedback=FeedbackService(store, predictions, models.task_of),
            deployments=deployments,
            deploy_runner=DeployRunner(deployments, deployer, data_quality),
            data_quality=data_quality,
            online=OnlinePolicyService(store, deployments),
            accounts=AccountFlows(
                users,
                AccountLinks(store),
                public_url=config.public_url,
                mailer=mailer,
                mail=config.mail,
            ),
            oidc=OidcLogin(store, users, config.oidc, config.public_url),
            upload_sandbox=UploadSandbox(config.sandbox),
        )

    async def startup(self) -> None:
        await self._reach_store()
        await self.store.check_durable()
        await ensure_initial_admin(self.users, self.config)
        await self.webhook_worker.start()

    async def _reach_store(self, attempts: int = 3, pause_s: float = 1.0) -> None:
        """Ping the state store, a few times before giving up: replicas often start beside
        their store, and a busy host can stall a connection past its short timeout."""
        for attempt in range(1, attempts + 1):
            try:
                await self.store.ping()
                return
            except ServiceUnavailableError:
                if attempt == attempts:
                    raise
                await asyncio.sleep(pause_s)

    async def shutdown(self) -> None:
        await self.deploy_runner.cancel_all()
        await self.webhook_worker.stop()
        await self.online.close()
        await self.accounts.drain()
        await self.store.close()
