"""The rules of stages and aliases, as pure functions of a :class:`ReleaseState`.

Each function returns the new state and the transitions to record, or raises a 4xx error
naming the field and what is allowed; the caller writes nothing when it raises.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal, cast

from mlserve.errors import InvalidInputError, NotFoundError
from mlserve.repository.release_state import STAGES, ReleaseState, Stage, Transition

_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
FALLBACK = "fallback"
"""The alias the previous Production version gets under ``previous_production=fallback``."""
PreviousProduction = Literal["archive", "fallback"]


def check_stage(value: str) -> Stage:
    """``value`` as a stage (case-insensitive), else a 422 listing the stages."""
    for stage in STAGES:
        if value.lower() == stage.lower():
            return cast(Stage, stage)
    raise InvalidInputError(
        f"target_stage {value!r} is not a stage; allowed: {', '.join(STAGES)}",
        detail={"field": "target_stage", "allowed": list(STAGES)},
    )


def check_alias(alias: str) -> str:
    if not _ALIAS.match(alias):
        shown = alias if len(alias) <= 40 else alias[:37] + "..."
        raise InvalidInputError(
            f"alias {shown!r} is not allowed: 1-32 lowercase letters, digits, '_' or '-', "
            "starting with a letter (e.g. champion, challenger)",
            detail={"field": "alias"},
        )
    return alias


def check_version(name: str, version: int, versions: list[int]) -> int:
    if version not in versions:
        listed = ", ".join(str(v) for v in versions)
        raise NotFoundError(
            f"version {version} of {name} does not exist; allowed versions: {listed}",
            detail={"field": "version", "allowed": versions},
        )
    return version


def move_stage(
    state: ReleaseState,
    version: int,
    target: Stage,
    *,
    by: str,
    reason: str,
    previous_production: PreviousProduction = "archive",
) -> tuple[ReleaseState, list[Transition]]:
    """``version`` into ``target``. Promoting to Production moves the previous Production
    version to Archived (or to Staging with the ``fallback`` alias); Archived versions are
    switched off (unloaded), any other target switches the version on again (restore)."""
    now = datetime.now(UTC)
    stages = dict(state.stages)
    aliases = dict(state.aliases)
    disabled = set(state.disabled_versions)
    transitions = []

    def move(v: int, to: Stage, why: str) -> None:
        transitions.append(
            Transition(
                at=now,
                by=by,
                action="stage",
                version=v,
                from_stage=state.stage(v),
                to_stage=to,
                reason=why,
            )
        )
        stages[v] = to

    previous = state.production()
    if target == "Production" and previous is not None and previous != version:
        why = f"replaced by v{version} in Production"
        if previous_production == "fallback":
            move(previous, "Staging", why)
            aliases[FALLBACK] = previous
        else:
            move(previous, "Archived", why)
    move(version, target, reason)
    if target == "Archived":
        aliases = {a: v for a, v in aliases.items() if v != version}
    else:
        disabled.discard(version)
    updated = state.model_copy(
        update={"stages": stages, "aliases": aliases, "disabled_versions": sorted(disabled)}
    )
    return updated, transitions


def archive_switched_off(state: ReleaseState) -> ReleaseState:
    """Every Archived version switched off, none held: the end of a promotion."""
    archived = {v for v, s in state.stages.items() if s == "Archived"}
    disabled = sorted(set(state.disabled_versions) | archived)
    return state.model_copy(update={"disabled_versions": disabled, "held_versions": []})


def set_alias(
    state: ReleaseState, alias: str, version: int, *, by: str, reason: str
) -> tuple[ReleaseState, list[Transition]]:
    """Point ``alias`` at ``version`` (an Archived version must be restored first)."""
    check_alias(alias)
    if state.stage(version) == "Archived":
        raise InvalidInputError(
            f"version {version} is Archived; restore it first (promote it to Staging) "
            "before naming it with an alias",
            detail={"field": "version"},
        )
    entry = Transition(
        at=datetime.now(UTC), by=by, action="alias", version=version, alias=alias, reason=reason
    )
    return state.model_copy(update={"aliases": {**state.aliases, alias: version}}), [entry]


def drop_alias(
    state: ReleaseState, alias: str, *, by: str, reason: str
) -> tuple[ReleaseState, list[Transition]]:
    check_alias(alias)
    if alias not in state.aliases:
        known = ", ".join(sorted(state.aliases)) or "none"
        raise NotFoundError(
            f"alias {alias!r} is not set; set aliases: {known}", detail={"field": "alias"}
        )
    entry = Transition(
        at=datetime.now(UTC),
        by=by,
        action="unalias",
        version=state.aliases[alias],
        alias=alias,
        reason=reason,
    )
    aliases = {a: v for a, v in state.aliases.items() if a != alias}
    return state.model_copy(update={"aliases": aliases}), [entry]
