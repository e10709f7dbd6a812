"""Promotions and aliases end to end: the release state on disk, then Triton, then routing.

A promotion to Production never leaves requests without a loaded version to answer them:

1. the target version is switched on and *held* (loaded whatever its age), and Triton
   loads it; the call waits until it is READY;
2. the new stages are written: requests without a version now resolve to it (this process
   at once, other replicas within a second), while the previous Production version, now
   Archived, is still held loaded;
3. after ``promotion_grace_seconds`` the Archived versions are switched off and Triton
   unloads them (requests already sent to them finish first).

Usage::

    releases = ReleaseManager(repository, publisher)
    await releases.promote("sentiment", 2, "Production", by="ada", reason="beats v1")
    await releases.set_alias("sentiment", "challenger", 3, by="ada")
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from mlserve.errors import ConflictError
from mlserve.lifecycle import stages as rules
from mlserve.lifecycle.gate import GateReport, store_report
from mlserve.lifecycle.stages import PreviousProduction
from mlserve.repository.release_state import CHAMPION, ReleaseState, Transition
from mlserve.repository.store import ModelRepository

ApplyRelease = Callable[[str, int | None], Awaitable[None]]
"""``(name, wait_for)``: make Triton load what the config says (Publisher.apply_release)."""
GateCheck = Callable[[str, int, int | None], Awaitable[GateReport]]
"""``(name, candidate, champion)``: the gate's report (a bound ReleaseGate over the model's
validation set)."""


class ReleaseManager:
    """Moves versions between stages and names them with aliases."""

    def __init__(
        self,
        repository: ModelRepository,
        apply: ApplyRelease | None,
        *,
        previous_production: PreviousProduction = "archive",
        grace_seconds: float = 2.0,
    ) -> None:
        self.repository = repository
        self.apply = apply
        self.previous_production = previous_production
        self.grace_seconds = grace_seconds
        self._locks: dict[str, asyncio.Lock] = {}

    async def promote(
        self,
        name: str,
        version: int,
        target_stage: str,
        *,
        by: str,
        reason: str = "",
        gate: GateCheck | None = None,
    ) -> ReleaseState:
        """Move ``version`` of ``name`` into ``target_stage``. 404 unknown model or version,
        422 unknown stage, 409 a version whose parity check failed or (with ``gate``, into
        Production) that does not beat the champion; nothing changes then but the stored
        gate report."""
        target = rules.check_stage(target_stage)
        versions = self.repository.versions(name)
        if not versions:
            self.repository.metadata(name, version)  # raises the 404 listing the models
        rules.check_version(name, version, versions)
        if target in ("Staging", "Production"):
            parity = self.repository.metadata(name, version).parity.get("passed")
            if parity is False:
                raise ConflictError(
                    f"version {version} of {name} failed its parity check and cannot be "
                    f"promoted to {target}; allowed: promote a version whose parity passed",
                    detail={"field": "version"},
                )
        async with self._lock(name):
            current = self.repository.release_state(name)
            planned, _ = self._move(current, version, target, by, reason)  # raises, no writes
            if target == "Production" and version not in self.repository.active_versions(name):
                await self._update(name, lambda s: _hold(s, [version]), [])
                await self._apply(name, version)
            if gate is not None and target == "Production":
                await self._judge(name, version, current, gate)
            previous = current.production()
            held = [previous] if previous is not None and previous != version else []
            if target == "Archived" and version in self.repository.active_versions(name):
                held.append(version)

            def change(state: ReleaseState) -> ReleaseState:
                moved, _ = self._move(state, version, target, by, reason)
                return _hold(moved, held)

            _, transitions = self._move(current, version, target, by, reason)
            await self._update(name, change, transitions)
            await self._apply(name, None)
            if held and any(planned.stage(v) == "Archived" for v in held):
                await asyncio.sleep(self.grace_seconds)
            state = await self._update(name, rules.archive_switched_off, [])
            await self._apply(name, None)
            return state

    async def set_alias(
        self, name: str, alias: str, version: int, *, by: str, reason: str = ""
    ) -> ReleaseState:
        """Point ``alias`` at ``version`` (loaded whatever its age)."""
        rules.check_alias(alias)
        versions = self.repository.versions(name)
        if not versions:
            self.repository.metadata(name, version)
        rules.check_version(name, version, versions)
        async with self._lock(name):
            current = self.repository.release_state(name)
            _, transitions = rules.set_alias(current, alias, version, by=by, reason=reason)
            if version not in self.repository.active_versions(name):
                await self._update(name, lambda s: _hold(s, [version]), [])
                await self._apply(name, version)

            def change(state: ReleaseState) -> ReleaseState:
                named = rules.set_alias(state, alias, version, by=by, reason=reason)[0]
                held = [v for v in named.held_versions if v != version]
                return named.model_copy(update={"held_versions": held})

            state = await self._update(name, change, transitions)
            await self._apply(name, None)
            return state

    async def drop_alias(self, name: str, alias: str, *, by: str, reason: str = "") -> ReleaseState:
        rules.check_alias(alias)
        if not self.repository.versions(name):
            self.repository.metadata(name, 1)
        async with self._lock(name):
            current = self.repository.release_state(name)
            _, transitions = rules.drop_alias(current, alias, by=by, reason=reason)

            def change(state: ReleaseState) -> ReleaseState:
                return rules.drop_alias(state, alias, by=by, reason=reason)[0]

            state = await self._update(name, change, transitions)
            await self._apply(name, None)
            return state

    def history(self, name: str, limit: int = 100) -> list[Transition]:
        if not self.repository.versions(name):
            self.repository.metadata(name, 1)
        return self.repository.history(name, limit)

    # -- helpers ------------------------------------------------------------------------

    async def _judge(self, name: str, version: int, current: ReleaseState, gate: GateCheck) -> None:
        champion = current.production()
        if champion is None:
            champion = current.aliases.get(CHAMPION)
        try:
            report = await gate(name, version, champion if champion != version else None)
        except BaseException:
            await self._update(name, rules.archive_switched_off, [])  # drop the hold
            await self._apply(name, None)
            raise
        store_report(self.repository.version_dir(name, version), report)
        if not report.passed:
            await self._update(name, rules.archive_switched_off, [])
            await self._apply(name, None)
            raise ConflictError(
                f"the gate kept {name} v{version} out of Production: {report.reason}; "
                "the report is stored with the version (GET /models/{name}/versions)",
                detail={"field": "gate", "report": report.model_dump(mode="json")},
            )

    def _move(
        self, state: ReleaseState, version: int, target: str, by: str, reason: str
    ) -> tuple[ReleaseState, list[Transition]]:
        return rules.move_stage(
            state,
            version,
            rules.check_stage(target),
            by=by,
            reason=reason,
            previous_production=self.previous_production,
        )

    async def _update(
        self,
        name: str,
        change: Callable[[ReleaseState], ReleaseState],
        transitions: list[Transition],
    ) -> ReleaseState:
        return await asyncio.to_thread(self.repository.update_release, name, change, transitions)

    async def _apply(self, name: str, wait_for: int | None) -> None:
        if self.apply is not None:
            await self.apply(name, wait_for)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())


def _hold(state: ReleaseState, versions: list[int]) -> ReleaseState:
    held = sorted(set(state.held_versions) | set(versions))
    disabled = sorted(set(state.disabled_versions) - set(versions))
    return state.model_copy(update={"held_versions": held, "disabled_versions": disabled})
