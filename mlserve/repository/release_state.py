"""What a model's release looks like, as its ``state.json`` keeps it: the stage of each
version, named aliases, versions switched off, and versions held loaded during a promotion.

The file sits beside the versions in the model repository, so every replica, the CLI and
Triton's config generation read the same state, and deleting a model removes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

Stage = Literal["None", "Staging", "Production", "Archived"]
"""A version's stage (seed S2): ``None`` → ``Staging`` → ``Production`` → ``Archived``."""
STAGES: tuple[str, ...] = get_args(Stage)
CHAMPION = "champion"
"""The alias that answers requests without a version when no version is in Production."""


class ReleaseState(BaseModel):
    """One model's ``state.json``."""

    disabled_versions: list[int] = Field(default_factory=list)
    """Versions Triton must not load (stopped by an operator, or Archived)."""
    stages: dict[int, Stage] = Field(default_factory=dict)
    """Stage per version; a version not listed is in ``None``."""
    aliases: dict[str, int] = Field(default_factory=dict)
    """``{"champion": 2}``."""
    held_versions: list[int] = Field(default_factory=list)
    """Kept loaded while a promotion moves traffic (replicas read this file each second)."""

    def stage(self, version: int) -> Stage:
        return self.stages.get(version, "None")

    def production(self) -> int | None:
        """The Production version (None: none is)."""
        found = [v for v, stage in self.stages.items() if stage == "Production"]
        return max(found) if found else None

    def aliases_of(self, version: int) -> list[str]:
        return sorted(a for a, v in self.aliases.items() if v == version)

    def pinned(self) -> set[int]:
        """Versions loaded whatever their age: Production, aliased and held ones."""
        pinned = set(self.aliases.values()) | set(self.held_versions)
        production = self.production()
        if production is not None:
            pinned.add(production)
        return pinned


class Transition(BaseModel):
    """One change of a model's release, as ``GET /models/{name}/history`` lists it."""

    at: datetime
    by: str = Field(description="Who: the account name, or cli:<os user>.")
    action: Literal["stage", "alias", "unalias", "publish"]
    version: int
    from_stage: Stage | None = None
    to_stage: Stage | None = None
    alias: str | None = None
    reason: str = ""
