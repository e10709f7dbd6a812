"""Settings: one object, read once, passed down.

Values come from, in order of precedence: keyword arguments, ``MLSERVE_*`` environment
variables (nested keys with ``__``, e.g. ``MLSERVE_CACHE__TTL_SECONDS``), the YAML file
named by ``MLSERVE_CONFIG`` (default ``./config.yaml`` when it exists), then defaults.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from mlserve.errors import SettingsError


class SettingsSection(BaseModel):
    """A nested group of settings. Unknown keys are refused, so a misspelt or retired key in
    the config file or an ``MLSERVE_SECTION__KEY`` variable is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class CacheSettings(SettingsSection):
    """Prediction cache."""

    enabled: bool = True
    """Serve repeated inputs from the cache."""
    ttl_seconds: float = Field(default=300.0, gt=0)
    """How long a cached prediction lives."""
    max_size: int = Field(default=10_000, ge=1)
    """Entries kept by the in-memory cache (LRU beyond that)."""
    redis_url: str | None = None
    """Use Redis at this URL (``redis://host:port/db``) for the prediction cache only;
    in-memory when unset. This Redis may evict (``allkeys-lru``) and need not persist:
    platform state never lives here (``auth.state_redis_url``)."""
    replay_max_body_bytes: int = Field(default=4096, ge=0)
    """With the in-memory cache, predict request bodies up to this size are remembered byte
    for byte (at most ``max_size`` of them, for ``ttl_seconds``), and the same body again is
    answered without parsing, cleaning or a cache lookup (``mlserve.control_plane.repeats``). Not
    with Redis, whose outages must show; 0 turns it off."""


class MonitoringSettings(SettingsSection):
    """Prometheus metrics and drift monitoring."""

    enabled: bool = True
    """Run the drift monitor and poll Triton's metrics (``/metrics`` on the API port, which
    Prometheus scrapes, is served either way)."""
    drift_window: int = Field(default=500, ge=50)
    """Requests per live window compared against a version's reference profile."""
    drift_samples_per_second: float = Field(default=250.0, ge=0)
    """Most predictions per model version and second that enter the drift windows (beyond
    it they only count in the label and confidence metrics): bounds monitoring's CPU under
    load (a drift sample costs 30-120 µs here, so 250/s is at most 3% of a core) while a
    window of 500 still fills in 2 s. 0: every prediction."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Also serve ``/metrics`` on this port (a plain HTTP listener beside the API, as
    Prometheus setups that scrape a dedicated port expect, e.g. seed S1's 9090); unset: only
    on the API port."""
    triton_poll_seconds: float = Field(default=5.0, gt=0)
    """How often Triton's statistics are read."""
    drift_alpha: float = Field(default=0.01, gt=0, lt=1)
    """False-alarm probability per evaluated window, split across signals (Bonferroni)."""
    min_success_rate: float = Field(default=0.95, ge=0, le=1)
    """Alert when a version's share of successful requests falls below this."""
    max_avg_latency_ms: float = Field(default=500.0, gt=0)
    """Alert when a version's average request latency rises above this, in ms."""
    alert_min_requests: int = Field(default=20, ge=1)
    """Requests needed in the stats horizon before success-rate and latency alerts fire."""
    stats_horizon_seconds: float = Field(default=300.0, gt=0)
    """Time span the success rate and average latency of alerts are computed over."""
    baseline_intervals: int = Field(default=12, ge=3)
    """Poll intervals that form the baseline serving-performance rises are judged against."""
    report_column_alpha: float = Field(default=0.05, gt=0, lt=1)
    """Drift reports: a column drifts when its test's p-value is below this."""
    report_drift_share: float = Field(default=0.5, gt=0, le=1)
    """Drift reports: the dataset drifts when at least this share of its columns drifted."""
    report_min_rows: int = Field(default=200, ge=1)
    """Drift reports: rows each side (reference, current window) needs before the dataset
    is judged; fewer give the verdict "not enough data"."""


class TritonSettings(SettingsSection):
    """Where Triton runs and how models are configured for it."""

    url: str | None = None
    """External Triton gRPC address (``host:port``); when set no embedded Triton is started."""
    http_url: str | None = None
    """External Triton HTTP address (``http://host:8000``), used for inference over HTTP and
    benchmark statistics; default: the gRPC address's host with ``http_port``."""
    metrics_url: str | None = None
    """External Triton metrics URL (``http://host:8002/metrics``)."""
    replicas: list[str] = Field(default_factory=list)
    """gRPC addresses (``host:port``) of every Triton serving the shared model repository,
    for replicas (docs/scaling.md, Replicas): a publish loads the model on each and waits until all
    serve the new version, and a version is routed to only once every reachable replica
    serving the model has it. Inference still goes to ``url`` (this control plane's own
    Triton; listing it here too is fine). ``dns:host:port`` stands for every address
    ``host`` resolves to, looked up on each use (a Kubernetes headless Service: one address
    per ready Triton pod). Empty: only ``url`` (or the embedded Triton)."""
    host: str = "127.0.0.1"
    """Address the embedded Triton binds to."""
    http_port: int = 8000
    """Embedded Triton HTTP port."""
    grpc_port: int = 8001
    """Embedded Triton gRPC port."""
    metrics_port: int = 8002
    """Embedded Triton metrics port."""
    backend: Literal["mlserve_onnx", "onnxruntime"] = "mlserve_onnx"
    """``mlserve_onnx``: our ONNX Runtime runner on Triton's Python backend (embedded Triton);
    ``onnxruntime``: the native backend of the NGC container."""
    instance_kind: Literal["KIND_CPU", "KIND_GPU", "KIND_AUTO"] = "KIND_CPU"
    """Where model instances run."""
    instance_count: int = Field(default=1, ge=1)
    """Model instances per loaded version."""
    max_queue_size: int = Field(default=0, ge=0)
    """Requests Triton queues per model before rejecting (0 = unbounded). Default 0 with
    ``queue_timeout_ms`` 0: no queue policy is written, because the embedded Triton's batcher
    pauses ~500 ms about once every few thousand requests with any policy
    (docs/performance.md). Overload is bounded in the control plane instead: the in-flight bound
    (``limits.max_inflight_per_model``, 429) caps what can wait in Triton's queue, and the
    request deadline (504 naming the stage) is the Triton call's client timeout."""
    queue_timeout_ms: int = Field(default=0, ge=0)
    """Default time a request may wait in Triton's queue (0 = no limit). Setting this or
    ``max_queue_size`` writes a queue policy (and lets Triton also drop requests whose
    deadline ran out while queued), at the price of the batcher's rare ~500 ms stalls."""
    serve_versions: int = Field(default=3, ge=1)
    """Newest versions of each model kept loaded (older ones stay on disk)."""
    ort_threads: int = Field(default=1, ge=0)
    """ONNX Runtime intra-op threads per model instance in the embedded Triton (0: one per
    core). One thread per instance measured fastest for small models on 2 cores; raise it
    for transformer models on bigger machines."""
    startup_timeout_s: float = Field(default=120.0, gt=0)
    """How long to wait for the embedded Triton to become ready."""
    stub_site: Path | None = None
    """Folder holding numpy 1.x alone, put first on the embedded Triton's Python-backend stub
    path (its Triton 2.51 build misreads tensors under numpy 2; ``mlserve.triton.stub_env``).
    Default: ``<venv>/triton-stub-site``, which ``make install`` fills."""
    infer_protocol: Literal["http", "grpc"] = "http"
    """How the control plane sends inference to Triton: ``http`` (KServe v2 REST with binary
    tensors on keep-alive connections; measured 3-5x less control-plane CPU per call than
    gRPC here) or ``grpc`` (the shared grpc.aio channel, one multiplexed connection).
    Health checks and repository control always use gRPC."""
    calls_in_flight: int | None = Field(default=None, ge=0)
    """Triton calls the control plane keeps in flight per model version. Requests that arrive
    while they are all busy share the next call (up to ``max_batch_size`` texts): far less
    CPU per request under load, no wait for a lone request. Default: one per model instance
    (``instance_count``), since an instance runs one batch at a time and a further call
    would only wait in Triton's queue with a smaller batch. 0: each request is its own call."""

    gather_turns: int = Field(default=4, ge=0, le=64)
    """Event-loop turns a shared call lets pass before it takes the waiting requests, so that
    requests whose clients are already sending join it (fewer turns once a full call waits:
    ``max_batch_size`` texts or the in-flight bound). Measured on 2 cores at concurrency 16:
    calls of ~7 texts at 0, ~13 at 3, ~16 at 4 or 5, and the CPU per cold request, all
    processes together, ~255 -> ~180 µs. A lone request still never waits; at concurrency 4
    the p50 rose from ~1.9 to ~2.0 ms. 0: take them at once."""

    @property
    def effective_calls_in_flight(self) -> int:
        """``calls_in_flight``, or ``instance_count`` when unset."""
        return self.instance_count if self.calls_in_flight is None else self.calls_in_flight

    request_timeout_s: float = Field(default=10.0, gt=0)
    """Client-side timeout for a Triton call when the request sets no deadline."""
    log_dir: Path | None = None
    """Where the embedded Triton writes its log (default: ``<models_dir>/../var/log``)."""


class ServerSettings(SettingsSection):
    """The control plane's HTTP server."""

    host: str = "127.0.0.1"
    """Bind address."""
    port: int = 8080
    """Bind port."""
    workers: int = Field(default=1, ge=1)
    """uvicorn worker processes of ``mlserve up`` (at most the cores; refused beyond). One
    ``/metrics`` scrape sums every worker's counts; the cache (unless Redis), the in-flight
    bound (``limits.max_inflight_per_model``), shared Triton calls and drift windows are per
    worker. See docs/scaling.md, Workers, for what more workers bought where."""
    worker_metrics_dir: Path | None = None
    """Where the workers exchange metric snapshots; ``mlserve up`` sets it to a fresh folder
    when ``workers`` > 1. Not meant to be set by hand."""
    gc_full_collection_threshold: int = Field(default=1000, ge=1, le=1_000_000)
    """Young garbage collections between two full ones while serving (CPython's third
    ``gc.set_threshold`` value; its default is 10). A full collection scans every
    long-lived object (the caches' ~85,000 with the default sizes) and pauses the event
    loop 25-35 ms for every request in flight; at 10 that happened every ~0.6 s at c=16 and
    made p99.9 ~40 ms, at 1,000 about once a minute (p99.9 ~12 ms). Lower it only if memory
    grows from cyclic garbage that lives long before it is dropped. See
    ``mlserve/control_plane/gc_policy.py``."""
    header_timeout_s: float = Field(default=10.0, gt=0)
    """A request's head (request line and headers) must arrive within this many seconds of
    its first byte (or of the connection opening); slower clients get 408 and are
    disconnected, so slow-header (slowloris) connections cannot pile up."""
    body_timeout_s: float = Field(default=120.0, gt=0)
    """A request's body must arrive within this many seconds after its head; raise it for
    model uploads over slow links (200 MB in 120 s needs ~1.7 MB/s)."""


class LimitsSettings(SettingsSection):
    """Load bounds of the control plane: in-flight requests and request deadlines."""

    max_inflight_per_model: int = Field(default=256, ge=1)
    """Texts in flight per model in one control-plane process; beyond it a request is refused
    at once with 429 and ``Retry-After`` (no queueing here: Triton queues)."""
    default_timeout_ms: int = Field(default=10_000, ge=1)
    """Deadline of a predict request that sets no ``timeout_ms``."""
    max_timeout_ms: int = Field(default=60_000, ge=1)
    """Largest ``timeout_ms`` a request may ask for (larger ones get 422)."""
    mirror_in_flight: int = Field(default=16, ge=1, le=10_000)
    """Mirror (shadow) copies in flight per process; a copy beyond it is dropped at once and
    counted (``mlserve_mirror_copies_total{outcome="dropped"}``): a mirror never slows the
    primary request."""
    mirror_timeout_ms: int = Field(default=5_000, ge=1, le=600_000)
    """Deadline of one mirror copy (its own; the client's request is answered already)."""

    @model_validator(mode="after")
    def _default_within_cap(self) -> LimitsSettings:
        if self.default_timeout_ms > self.max_timeout_ms:
            raise ValueError(
                f"limits.default_timeout_ms ({self.default_timeout_ms}) exceeds "
                f"limits.max_timeout_ms ({self.max_timeout_ms}); lower it or raise the cap"
            )
        return self


class AuthSettings(SettingsSection):
    """Accounts, bearer tokens and the state of the ``/api/v1`` platform API."""

    admin_user: str | None = None
    """First admin, created at start when no user of that name exists (also
    ``MLSERVE_ADMIN_USER``). There is no default admin and no default password."""
    admin_password: SecretStr | None = None
    """Password of ``admin_user`` (also ``MLSERVE_ADMIN_PASSWORD``); used only to create it."""
    token_ttl_seconds: float = Field(default=12 * 3600.0, gt=0)
    """How long a bearer token from ``POST /api/v1/token`` stays valid."""
    token_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    """How long a replica trusts a token it verified, without reading the state store again
    (0: read it on every request). Logout and account changes made through a replica apply
    there at once; through another replica or worker, within this many seconds."""
    webhook_allow_private: bool = False
    """Allow webhook URLs on loopback/private/link-local addresses (also
    ``MLSERVE_WEBHOOK_ALLOW_PRIVATE``); off by default to prevent SSRF."""
    webhook_max_attempts: int = Field(default=6, ge=1, le=20)
    """Delivery attempts per webhook event (exponential backoff) before it is marked failed."""
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """How long one webhook delivery attempt may take (connect, send, answer)."""
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    """A control plane claims a due delivery for this long before sending it (a lease in the
    state store), so replicas never send one delivery twice at once; a replica killed
    mid-delivery leaves it to another once the lease runs out. Raised to at least twice
    ``webhook_timeout_s``, so a slow attempt is never overtaken."""
    materialize_ttl_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    """How long a materialized prediction can be fetched."""
    prediction_log_size: int = Field(default=100_000, ge=100)
    """Predictions kept for feedback, online metrics and data quality (oldest dropped)."""
    require_token_for: list[Literal["predict", "metrics", "monitoring", "docs"]] = Field(
        default_factory=list
    )
    """Groups of the plain API that need ``Authorization: Bearer <token>`` (an account's
    token or ``admin_token``): ``predict`` (``/predict``, ``/batch-predict``, ``/v2``
    inference), ``metrics``, ``monitoring``, ``docs``. Empty (default): open, as fits a
    server bound to loopback; set it when binding to a network (e.g.
    ``MLSERVE_AUTH__REQUIRE_TOKEN_FOR='["predict","monitoring","docs"]'``)."""
    trust_loopback: bool | None = None
    """Requests from this machine (127.0.0.0/8, ``::1``) without a bearer token act as the
    admin, so seed S2's curls (promote, experiments) work as written on a local stack.
    ``None`` (default): on for ``mlserve up`` bound to a loopback address, off for every
    other start; ``true``: on, and the server refuses to start unless ``server.host`` is a
    loopback address; ``false``: off. Never trusted: a request through a proxy
    (``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP``), from a browser (``Origin``,
    ``Referer``, ``Sec-Fetch-*``: a web page must not promote models), or whose ``Host`` is
    not a loopback address (DNS rebinding). Off in docker-compose and the Helm chart."""
    state_path: Path | None = None
    """SQLite file for platform state (users, tokens, A/B weights, webhook outbox and
    deliveries, deployments, feedback) when ``state_redis_url`` is unset (default
    ``<models_dir>/../var/platform.sqlite3``); durable, single-node only."""
    state_redis_url: str | None = None
    """Redis for platform state, shared by replicas on several machines (unset: SQLite at
    ``state_path``). Never the cache's Redis: at start mlserve refuses a Redis whose
    ``maxmemory-policy`` is not ``noeviction`` or that persists nothing (neither
    ``appendonly yes`` nor a ``save`` schedule), since eviction or a restart would lose
    accounts and pending webhook deliveries."""
    upload_max_decompressed_bytes: int = Field(default=400_000_000, ge=1)
    """Largest size a ``/api/v1/deploy`` upload may decompress to (joblib compression or the
    members of a ``.skops`` zip); checked by streaming before anything is loaded (413)."""
    upload_memory_bytes: int = Field(default=3 * 1024**3, ge=256 * 1024**2)
    """Address-space limit (``RLIMIT_AS``) of the sandboxed child that loads and exports an
    upload; the libraries alone reserve ~1 GB of it."""
    upload_cpu_seconds: int = Field(default=300, ge=1)
    """CPU-time limit (``RLIMIT_CPU``) of that child: loading, ONNX export and parity check."""
    upload_wall_seconds: float = Field(default=600.0, gt=0)
    """Wall-clock limit of that child; it is killed past it."""
    login_failures_per_user: int = Field(default=5, ge=1)
    """Failed ``POST /api/v1/token`` attempts per user name within ``login_window_seconds``
    before further attempts for that name get 429 with ``Retry-After``."""
    login_failures_per_client: int = Field(default=20, ge=1)
    """Failed login attempts per client address within ``login_window_seconds`` before that
    address gets 429 with ``Retry-After`` (any user name)."""
    login_window_seconds: float = Field(default=300.0, gt=0)
    """The sliding window the login failure limits count over."""
    password_hash_concurrency: int = Field(default=1, ge=1)
    """argon2 hashes/verifications run at once (each costs ~64 MiB and ~100-200 ms of a
    core); further logins wait for a slot, so logins cannot starve inference."""
    public_url: str | None = None
    """The URL users reach this server at (e.g. ``https://ml.example.com``): links in
    e-mails and the OpenID Connect redirect URI start with it (default
    ``http://<server.host>:<server.port>``)."""


class MailSettings(SettingsSection):
    """Outgoing e-mail (SMTP) for account links: e-mail verification after ``register``,
    invitations, password-reset confirmations. Without ``host`` no e-mail is sent and an
    admin activates new accounts (``POST /api/v1/team/{id}/activate``)."""

    host: str | None = None
    """SMTP server host name (e.g. ``smtp.example.com``); unset: e-mail is off."""
    port: int = Field(default=587, ge=1, le=65535)
    """SMTP port: 587 for STARTTLS, 465 for implicit TLS, 25 for plain relays."""
    security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls`` (upgrade a plain connection; refused if the server cannot), ``tls``
    (implicit TLS from the first byte, port 465) or ``none`` (a trusted local relay only)."""
    username: str | None = None
    """SMTP login, when the server requires authentication."""
    password: SecretStr | None = None
    """SMTP password of ``username``."""
    from_address: str = "mlserve@localhost"
    """The ``From:`` of every e-mail, e.g. ``MLServe <no-reply@example.com>``."""
    timeout_s: float = Field(default=15.0, gt=0)
    """Connect/send timeout; a request that sends e-mail fails with a 503 after it."""
    verify_link_ttl_seconds: float = Field(default=48 * 3600.0, gt=0)
    """How long an e-mail verification link works."""
    invite_link_ttl_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    """How long an invitation link (which sets the invitee's password) works."""
    reset_link_ttl_seconds: float = Field(default=3600.0, gt=0)
    """How long a password-reset confirmation link works."""


class OidcProviderSettings(SettingsSection):
    """One OpenID Connect provider (Google is one: issuer ``https://accounts.google.com``)."""

    issuer: str
    """The issuer URL; its ``/.well-known/openid-configuration`` is read at first use."""
    client_id: str
    """The OAuth client id registered with the provider."""
    client_secret: SecretStr
    """The OAuth client secret."""
    scopes: str = "openid email profile"
    """Scopes requested; ``openid`` and ``email`` are needed."""
    auto_activate: bool = False
    """Whether an unknown (verified) e-mail gets an active account at once; otherwise the
    account is created inactive and an admin activates it. Known e-mails just log in."""


class OidcSettings(SettingsSection):
    """OpenID Connect login (``GET /api/v1/auth/{provider}``, the client's
    ``google_login``). Providers by name, e.g. ``MLSERVE_OIDC__PROVIDERS__GOOGLE__ISSUER``."""

    providers: dict[str, OidcProviderSettings] = Field(default_factory=dict)
    """Configured providers; the key is the ``{provider}`` in the URL (``google``)."""
    state_ttl_seconds: float = Field(default=600.0, gt=0)
    """How long a login started at the provider may take before its state expires."""


class LoggingSettings(SettingsSection):
    """The one-line-per-request log on stdout."""

    format: Literal["auto", "json", "text"] = "auto"
    """``json``: one JSON object per line (for log shippers); ``text``: one readable line;
    ``auto``: text when stdout is a terminal, JSON otherwise."""
    requests: bool = True
    """Write a line per request (route, status, latency and its parts, model, version,
    cached, routed_by, request id)."""
    payloads: bool = False
    """Add the request body (its first ``payload_max_bytes``) to each line. Off by default:
    bodies hold texts and features."""
    payload_max_bytes: int = Field(default=2048, ge=0, le=1_000_000)
    """Most body bytes a line carries when ``payloads`` is on."""


class TrainingSettings(SettingsSection):
    """``POST /models/{name}/train``: where datasets may come from and what a job may use."""

    data_root: Path | None = None
    """Server-side datasets (``dataset_path``) must lie under this folder; unset: uploads
    only."""
    work_dir: Path | None = None
    """Uploaded datasets and job logs (default ``<models_dir>/../var/training``)."""
    workers: int = Field(default=1, ge=1, le=8)
    """Training processes (jobs beyond them wait in a queue); never the serving loop."""
    worker_threads: int = Field(default=1, ge=1, le=64)
    """Threads each training process may use (BLAS, XGBoost, LightGBM)."""
    worker_nice: int = Field(default=19, ge=0, le=19)
    """Scheduling niceness of training processes, so serving keeps the CPU it needs."""
    worker_idle_priority: bool = True
    """Run training processes under Linux's SCHED_IDLE policy: they get the CPU only when
    serving leaves it idle (training slows under load instead of serving)."""
    max_trials: int = Field(default=200, ge=1)
    """Largest ``n_optimization_trials`` a request may ask for."""
    max_time_budget_s: float = Field(default=1800.0, gt=0)
    """Longest optimisation time a request may ask for."""
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    """Largest dataset upload."""
    max_rows: int = Field(default=2_000_000, ge=100)
    """Most rows a dataset may have."""
    max_queued_jobs: int = Field(default=8, ge=1)
    """Jobs waiting or running at once; more are refused with 429."""


class MlflowSettings(SettingsSection):
    """The MLflow tracking server models are imported from and training runs log to."""

    tracking_uri: str | None = None
    """Tracking server URL (``http://host:5000``); unset: ``MLFLOW_TRACKING_URI``, and
    training logs nothing to MLflow when neither is set."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Longest wait for the tracking server to answer one call: an unreachable server is a
    one-line error after this, not a hang."""


class PublishSettings(SettingsSection):
    """Model releases: stages, aliases and the champion/challenger gate."""

    default_stage: Literal["None", "Staging"] = "None"
    """The stage a newly published version starts in. Production is only reached by
    ``POST /models/{name}/promote`` (or ``mlserve promote``), so publishing never releases."""
    previous_production: Literal["archive", "fallback"] = "archive"
    """What happens to the Production version when another is promoted: ``archive`` moves
    it to Archived (unloaded from Triton); ``fallback`` moves it to Staging with the alias
    ``fallback``, still loaded, so ``"model": "name@fallback"`` reaches it."""
    promotion_grace_seconds: float = Field(default=2.0, ge=0, le=60)
    """How long the previous Production version stays loaded after a promotion, so
    replicas (which read the release state each second) finish routing to it."""
    gate_metric: Literal["f1_macro", "accuracy", "auc", "rmse"] = "f1_macro"
    """What a gated promotion compares (``rmse`` for regressors, lower wins)."""
    gate_max_recall_drop: float = Field(default=5.0, ge=0, le=100)
    """Points (0-100) of recall any class may lose against the champion in a gated
    promotion (seed S3: "no large regression on any class")."""


class Settings(BaseSettings):
    """Everything mlserve can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="MLSERVE_",
        env_nested_delimiter="__",
        extra="forbid",
        protected_namespaces=(),
    )

    models_dir: Path = Path("model_repository")
    """The Triton model repository."""
    default_model: str = "sentiment"
    """Model used when a request with text names none (``name`` or ``name-v<N>``)."""
    default_tabular_model: str = "iris"
    """Model used when a request with feature records names none (seed S4's flat body and
    S3's ``features`` rows carry no model name)."""
    max_batch_size: int = Field(default=64, ge=1)
    """Triton's max_batch_size for published models."""
    batch_timeout_ms: float = Field(default=0.0, ge=0)
    """Triton's dynamic-batcher wait for more requests, in ms. 0: a call runs as soon as the
    model instance is free, and requests that queued meanwhile still run as one batch. The
    control plane already sends shared calls (several requests at once), so a wait only
    delayed them: at c=16, 0.1 ms cost tabular ``/predict`` ~9% of its throughput (6,048
    against 6,589 req/s) and direct Triton HTTP clients gained nothing from it (11,040
    against 11,071). Raise it for many direct Triton clients sending one row each."""
    max_text_length: int = Field(default=10_000, ge=1)
    """Longest text accepted by the predict APIs, in characters."""
    max_batch_texts: int = Field(default=100, ge=1)
    """Most texts in one ``/batch-predict``."""
    cache: CacheSettings = CacheSettings()
    """Prediction cache."""
    monitoring: MonitoringSettings = MonitoringSettings()
    """Metrics and drift."""
    triton: TritonSettings = TritonSettings()
    """Triton location and model configuration."""
    server: ServerSettings = ServerSettings()
    """Control-plane HTTP server."""
    limits: LimitsSettings = LimitsSettings()
    """In-flight bounds and request deadlines."""
    redis_url: str | None = None
    """Redis for the prediction cache; overrides ``cache.redis_url`` when set. Platform state
    is kept apart (``auth.state_path`` or ``auth.state_redis_url``)."""
    triton_url: str | None = None
    """Shortcut for ``triton.url`` (``MLSERVE_TRITON_URL``): use an external Triton."""
    admin_token: SecretStr | None = None
    """A static bearer token (an API key, e.g. for Prometheus) accepted wherever
    ``auth.require_token_for`` closes a group of the plain API, beside the tokens of
    ``POST /api/v1/token``. Unset: only account tokens."""
    publish: PublishSettings = PublishSettings()
    """Stages, aliases and the gate of model releases."""
    auth: AuthSettings = AuthSettings()
    """Accounts, tokens and platform state of the ``/api/v1`` API."""
    mail: MailSettings = MailSettings()
    """Outgoing e-mail for account links (off unless ``mail.host`` is set)."""
    oidc: OidcSettings = OidcSettings()
    """OpenID Connect login providers (none by default)."""
    admin_user: str | None = None
    """Shortcut for ``auth.admin_user`` (``MLSERVE_ADMIN_USER``)."""
    admin_password: SecretStr | None = None
    """Shortcut for ``auth.admin_password`` (``MLSERVE_ADMIN_PASSWORD``)."""
    webhook_allow_private: bool = False
    """Shortcut for ``auth.webhook_allow_private`` (``MLSERVE_WEBHOOK_ALLOW_PRIVATE``)."""
    mlflow: MlflowSettings = MlflowSettings()
    """MLflow tracking server (model import, training runs)."""
    training: TrainingSettings = TrainingSettings()
    """Training jobs."""
    logging: LoggingSettings = LoggingSettings()
    """Request logs."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("MLSERVE_CONFIG", "config.yaml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @property
    def external_triton(self) -> str | None:
        """The external Triton gRPC address, or None when mlserve runs its own."""
        return self.triton_url or self.triton.url

    @property
    def inference_http_url(self) -> str | None:
        """Triton's HTTP address for inference, or None when ``triton.infer_protocol`` is
        ``grpc``: ``triton.http_url``, else the gRPC host (external or embedded) with
        ``triton.http_port``."""
        if self.triton.infer_protocol != "http":
            return None
        if self.triton.http_url:
            return self.triton.http_url
        grpc = self.external_triton
        host = grpc.removeprefix("grpc://").rsplit(":", 1)[0] if grpc else self.triton.host
        return f"http://{host}:{self.triton.http_port}"

    @property
    def effective_redis_url(self) -> str | None:
        """The Redis URL in force, from either setting."""
        return self.redis_url or self.cache.redis_url

    @property
    def queue_delay_us(self) -> int:
        """Dynamic-batching delay in microseconds."""
        return int(self.batch_timeout_ms * 1000)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once from the environment and config file.

    Raises :class:`SettingsError` naming each invalid setting, where it can be set and what
    it must be (not pydantic's multi-line report)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_invalid_settings(exc)) from None


def describe_invalid_settings(error: ValidationError) -> str:
    """One line per ``error``: e.g. ``invalid setting triton.gather_turns = '-1'
    (MLSERVE_TRITON__GATHER_TURNS or triton.gather_turns in config.yaml): Input should be
    greater than or equal to 0``, joined by ``; ``."""
    config_file = os.environ.get("MLSERVE_CONFIG", "config.yaml")
    parts = []
    for item in error.errors():
        path = [str(part) for part in item["loc"]]
        if not path:
            parts.append(f"invalid settings: {item['msg']}")
            continue
        name = ".".join(path)
        shown = not isinstance(item["input"], dict) and not any(
            marker in path[-1] for marker in _UNSHOWN_VALUES
        )
        given = f" = {item['input']!r}" if shown else ""
        where = f"MLSERVE_{'__'.join(path).upper()} or {name} in {config_file}"
        problem = item["msg"]
        if item["type"] == "extra_forbidden":
            problem = "no such setting (misspelt or retired?); mlserve/settings.py lists them all"
        parts.append(f"invalid setting {name}{given} ({where}): {problem}")
    return "; ".join(parts)


_UNSHOWN_VALUES = ("password", "secret", "redis_url")
"""Settings whose given value an error leaves out: it may hold a credential."""
