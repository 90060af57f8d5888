"""Generated fixtures for the cold-start tests."""

from __future__ import annotations

import numpy as np
from omegaconf import OmegaConf

from moodflow.coldstart.cli import DEFAULT_CONFIG
from moodflow.coldstart.linked import linked_world  # noqa: F401 (re-exported for the tests)


class VectorSpace:
    """A stand-in music space with given unit vectors (no playlists, no PPMI statistics)."""

    def __init__(self, track_ids, vectors, space_id="space-a"):
        self.track_ids = np.asarray(track_ids).astype(str)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.dim = self.vectors.shape[1]
        self.space_id = space_id
        self._rows = {track_id: row for row, track_id in enumerate(self.track_ids)}

    def __contains__(self, track_id):
        return track_id in self._rows

    def row_of(self, track_id):
        return self._rows[track_id]


def unit_rows(matrix):
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def small_config(**overrides):
    """The shipped config with a short training schedule for tests."""
    config = OmegaConf.load(DEFAULT_CONFIG)
    settings = {"training.epochs": 25, "training.patience": 25, "model.hidden_dims": [128, 128]}
    settings.update(overrides)
    return OmegaConf.merge(config, OmegaConf.from_dotlist([f"{key}={value}" for key, value in settings.items()]))


def build_small_space(playlists, dim=16):
    from moodflow.space import SpaceConfig, build_space

    return build_space(playlists, SpaceConfig(dim=dim, min_count=2))
