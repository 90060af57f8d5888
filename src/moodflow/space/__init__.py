"""The collaborative music space: track vectors from playlist co-occurrence.

Public surface: `build_space`, `MusicSpace` (with `save` / `load`),
`SpaceConfig`, and the errors `UnknownTrackError`, `PlaylistInputError`,
`SpaceConfigError`, `SpaceFileError`.
"""

from moodflow.space.build import build_space
from moodflow.space.config import SpaceConfig, SpaceConfigError
from moodflow.space.cooccurrence import PlaylistInputError, Playlists
from moodflow.space.model import KeyedVectors, MusicSpace, SpaceFileError, UnknownTrackError
from moodflow.space.svd import DimensionCappedWarning

__all__ = [
    "DimensionCappedWarning",
    "KeyedVectors",
    "MusicSpace",
    "PlaylistInputError",
    "Playlists",
    "SpaceConfig",
    "SpaceConfigError",
    "SpaceFileError",
    "UnknownTrackError",
    "build_space",
]
