"""Build settings of the music space."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from moodflow.errors import MoodflowError


class SpaceConfigError(MoodflowError):
    """A space build setting is out of its allowed range."""


@dataclass(frozen=True)
class SpaceConfig:
    """Settings of `build_space`; every field is recorded in the space folder.

    - `dim`: number of SVD components (capped, with a warning, at what the
      data allows).
    - `alpha`: exponent of the singular values in the track vectors U·Σ^alpha.
    - `smoothing`: context-distribution smoothing exponent applied to the
      playlist counts of context tracks in PPMI (1.0 means none).
    - `shift`: subtracted from PMI before clipping at zero, in nats
      (log k of shifted PPMI).
    - `min_count`: tracks in fewer playlists than this get no vector (cold).
    - `min_pair_count`: pairs co-occurring in fewer playlists are dropped.
    - `max_partners`: per-track cap on co-occurrence partners; a pair is kept
      when it is among the strongest `max_partners` of either track
      (0 disables the cap).
    - `window`: when set, only tracks at most this many positions apart in a
      de-duplicated playlist count as co-occurring.
    - `chunk_pairs`: maximum number of track pairs counted in one chunk;
      peak memory of the counting step grows with it (about 40 bytes a pair).
    - `n_iter`, `oversamples`, `seed`: randomized SVD settings.
    """

    dim: int = 128
    alpha: float = 1.0
    smoothing: float = 1.0
    shift: float = 0.0
    min_count: int = 2
    min_pair_count: int = 1
    max_partners: int = 1000
    window: int | None = None
    chunk_pairs: int = 10_000_000
    n_iter: int = 7
    oversamples: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            ("dim", self.dim >= 1, ">= 1"),
            ("alpha", 0.0 <= self.alpha <= 1.0, "in [0, 1]"),
            ("smoothing", 0.0 < self.smoothing <= 1.0, "in (0, 1]"),
            ("shift", self.shift >= 0.0, ">= 0"),
            ("min_count", self.min_count >= 1, ">= 1"),
            ("min_pair_count", self.min_pair_count >= 1, ">= 1"),
            ("max_partners", self.max_partners >= 0, ">= 0 (0 disables the cap)"),
            ("window", self.window is None or self.window >= 1, "None or >= 1"),
            ("chunk_pairs", self.chunk_pairs >= 1, ">= 1"),
            ("n_iter", self.n_iter >= 0, ">= 0"),
            ("oversamples", self.oversamples >= 0, ">= 0"),
        ]
        for name, valid, allowed in checks:
            if not valid:
                raise SpaceConfigError(
                    f"invalid space setting {name}={getattr(self, name)!r}; it must be {allowed}"
                )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> SpaceConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known - {"_target_"})
        if unknown:
            raise SpaceConfigError(
                f"unknown space setting(s) {unknown}; allowed: {sorted(known)}"
            )
        return cls(**{key: value for key, value in values.items() if key in known})
