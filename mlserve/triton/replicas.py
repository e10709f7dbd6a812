"""Every Triton that serves the shared model repository, driven as one.

Replicas share one model repository (a folder every Triton and control plane mounts: a
host path, NFS, a ReadWriteMany PVC). Triton runs in EXPLICIT mode (no polling: POLL picks
up half-written versions), so a publish must reach each Triton: ``triton.replicas`` lists
their gRPC addresses, and the control plane that publishes (or ``mlserve load``) asks each
of them to load the model and waits until every one serves the new version.

Routing follows the same rule: a version is routed to only when every reachable replica
that serves the model has loaded it (:meth:`TritonReplicas.ready_versions` is the
intersection), so during a hot swap no control plane sends a request to a version one
Triton does not have yet, and clients behind a load balancer never see a version appear,
vanish and come back. A replica that is down, or that serves no version of the model yet
(restarting, loading), does not hold the others back, and a publish skips a replica that
does not answer: started with ``--load-model=*`` it loads the folder when it comes back
(control planes starting and later publishes load it too).

:func:`check_repository` refuses, at start, a Triton that does not see the repository's
models: a control plane or replica pointed at another repository (inconsistent replica
settings) would otherwise fail every publish and route nothing.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from mlserve.errors import MLServeError, ServiceUnavailableError, SettingsError
from mlserve.triton.client import ModelState, TritonClient

log = logging.getLogger(__name__)

DNS_PREFIX = "dns:"
"""A ``triton.replicas`` entry ``dns:host:port``: every address ``host`` resolves to."""
_ROUTING_FIX = (
    "start every Triton with --model-repository on the folder MLSERVE_MODELS_DIR names "
    "(shared by all replicas), or point MLSERVE_TRITON_URL / MLSERVE_TRITON__REPLICAS at "
    "Tritons that serve it"
)


class RepositoryControl(Protocol):
    """What publishing and routing need from Triton: one server (:class:`TritonClient`)
    or all replicas (:class:`TritonReplicas`)."""

    @property
    def url(self) -> str: ...

    async def load_model(self, name: str) -> None: ...

    async def unload_model(self, name: str) -> None: ...

    async def model_index(self) -> list[ModelState]: ...

    async def ready_versions(self, name: str) -> list[int]: ...


class TritonReplicas:
    """The control plane's own Triton (``primary``, which it sends inference to) and the
    other replicas serving the same repository, for repository control and readiness.

    ``discover`` names (``host:port``) stand for every address their host resolves to,
    looked up on each use: a Kubernetes headless Service lists one address per ready
    Triton pod, so pods that come and go are replicas without a restart."""

    def __init__(
        self,
        primary: TritonClient,
        others: Sequence[TritonClient] = (),
        *,
        discover: Sequence[str] = (),
    ) -> None:
        self.primary = primary
        self.others = list(others)
        self.discover = list(discover)
        self._found: dict[str, TritonClient] = {}

    @classmethod
    def of(cls, primary: TritonClient, replica_urls: Iterable[str]) -> TritonReplicas:
        """``primary`` plus a client for each of ``replica_urls`` (gRPC ``host:port``, or
        ``dns:host:port`` for every address of ``host``) that is not the primary itself;
        duplicates are dropped."""
        seen = {primary.url}
        others, discover = [], []
        for url in replica_urls:
            if url.startswith(DNS_PREFIX):
                discover.append(url.removeprefix(DNS_PREFIX))
                continue
            address = url.removeprefix("grpc://")
            if address not in seen:
                seen.add(address)
                others.append(TritonClient(address, timeout_s=primary.timeout_s))
        return cls(primary, others, discover=discover)

    @property
    def url(self) -> str:
        return self.primary.url

    @property
    def clients(self) -> list[TritonClient]:
        """The primary and the fixed replicas (:meth:`current` adds discovered ones)."""
        return [self.primary, *self.others]

    @property
    def urls(self) -> list[str]:
        return [client.url for client in self.clients]

    async def current(self) -> list[TritonClient]:
        """Every replica now, the primary first: the fixed ones and one per address the
        ``discover`` names resolve to (a name that does not resolve adds none)."""
        clients = self.clients
        if not self.discover:
            return clients
        seen = {client.url for client in clients}
        loop = asyncio.get_running_loop()
        for name in self.discover:
            host, _, port = name.rpartition(":")
            try:
                infos = await loop.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
            except (OSError, ValueError) as exc:
                log.warning("Triton replicas %s: %s", name, exc)
                continue
            for info in infos:
                ip = str(info[4][0])
                address = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
                if address not in seen:
                    seen.add(address)
                    found = self._found.get(address)
                    if found is None:
                        found = TritonClient(address, timeout_s=self.primary.timeout_s)
                        self._found[address] = found
                    clients.append(found)
        return clients

    async def load_model(self, name: str) -> None:
        """(Re)load ``name`` on every replica at once; raises the first failure, naming
        the replica (the others keep what they loaded; the publisher rolls back)."""
        await self._on_all(lambda client: client.load_model(name), f"load {name!r}")

    async def unload_model(self, name: str) -> None:
        await self._on_all(lambda client: client.unload_model(name), f"unload {name!r}")

    async def model_index(self) -> list[ModelState]:
        """The primary's repository index (what :meth:`ready_versions` narrows down)."""
        return await self.primary.model_index()

    async def ready_versions(self, name: str) -> list[int]:
        """Versions of ``name`` that every reachable replica serving the model has READY
        (ascending). Raises the primary's error when no replica answers."""
        answers = await asyncio.gather(
            *(client.ready_versions(name) for client in await self.current()),
            return_exceptions=True,
        )
        ready: set[int] | None = None
        for answer in answers:
            if isinstance(answer, BaseException):
                if not isinstance(answer, MLServeError):
                    raise answer
                continue  # a replica that is down serves nothing and holds nobody back
            if not answer:
                continue  # restarting or still loading the model: not serving it yet
            ready = set(answer) if ready is None else ready & set(answer)
        if ready is None:
            if isinstance(answers[0], BaseException):
                raise answers[0]
            return []
        return sorted(ready)

    async def close(self) -> None:
        """Close the other replicas' clients (the primary belongs to the caller)."""
        for client in [*self.others, *self._found.values()]:
            await client.close()

    async def _on_all(self, action: Callable[[TritonClient], Awaitable[None]], what: str) -> None:
        """``action`` on the primary and every other replica that answers; one that does
        not is skipped (down or restarting: started with ``--load-model=*`` it loads the
        repository itself when it is back), so one dead replica does not stop publishing."""
        primary, *others = await self.current()
        answering = await asyncio.gather(*(client.answers() for client in others))
        for client, up in zip(others, answering, strict=True):
            if not up:
                log.warning("Triton replica %s does not answer; skipped (%s)", client.url, what)
        clients = [primary, *(c for c, up in zip(others, answering, strict=True) if up)]
        results = await asyncio.gather(
            *(action(client) for client in clients), return_exceptions=True
        )
        for client, result in zip(clients, results, strict=True):
            if isinstance(result, MLServeError):
                raise ServiceUnavailableError(
                    f"Triton replica {client.url} could not {what}: {result.message}"
                )
            if isinstance(result, BaseException):
                raise result


async def replicas_of(triton: RepositoryControl) -> list[TritonClient]:
    """The single servers behind ``triton`` (one, or every replica now)."""
    if isinstance(triton, TritonReplicas):
        return await triton.current()
    assert isinstance(triton, TritonClient)
    return [triton]


async def check_repository(
    triton: RepositoryControl, active: Iterable[str], every: Iterable[str], models_dir: Path
) -> list[str]:
    """Raise :class:`SettingsError` (one line: which Triton, what differs, what to change)
    when a reachable Triton does not see the repository at ``models_dir``: a model with
    active versions (``active``) is missing from its index, or the repository holds no
    model at all (``every`` is empty) while the Triton lists some. Returns the addresses of
    replicas that did not answer (they load the models when they come back)."""
    expected, known = set(active), set(every)
    unreachable = []
    for client in await replicas_of(triton):
        try:  # the index, not server-ready: strict readiness is false while a model loads
            listed = {row.name for row in await client.model_index()}
        except MLServeError:
            unreachable.append(client.url)
            continue
        shown = ", ".join(sorted(listed)) or "none"
        missing = sorted(expected - listed)
        if missing:
            raise SettingsError(
                f"Triton at {client.url} does not see model(s) {', '.join(missing)} of the "
                f"model repository {models_dir} (it lists: {shown}): {_ROUTING_FIX}"
            )
        if not known and listed:
            raise SettingsError(
                f"Triton at {client.url} serves another model repository (it lists: {shown};"
                f" {models_dir} holds no model): {_ROUTING_FIX}"
            )
    return unreachable
