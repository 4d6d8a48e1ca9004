"""Asset keys under the config's `key_prefix`, so several configs (one code location each) can
share a Dagster instance without their assets or tables colliding."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class Keys:
    prefix: list[str]

    @classmethod
    def of(cls, key_prefix: str | None) -> Keys:
        return cls([key_prefix] if key_prefix else [])

    def __call__(self, name: str) -> dg.AssetKey:
        """The key of one asset of this location."""
        return dg.AssetKey([*self.prefix, name])

    def ins(self, *names: str) -> dict[str, dg.AssetIn]:
        """Data inputs by parameter name, spelled out: Dagster leaves the prefix off inputs of
        an asset that also has `deps`."""
        return {name: dg.AssetIn(key=self(name)) for name in names}
