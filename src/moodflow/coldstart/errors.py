"""Errors that the cold-start stage raises on bad input."""

from __future__ import annotations

from moodflow.errors import MoodflowError


class ColdStartError(MoodflowError):
    """Base class for cold-start input errors."""


class EmbeddingSizeError(ColdStartError):
    """A features table's embedding length differs from the one the model was trained on."""

    def __init__(self, path: str, expected: int, found: int) -> None:
        self.path = path
        self.expected = expected
        self.found = found
        super().__init__(
            f"embedding size mismatch in {path}: the model expects {expected} values per "
            f"embedding, found {found}; tag the releases with the tagger bundle the model "
            f"was trained with, or retrain the projection"
        )


class AmbiguousArtistError(ColdStartError):
    """An artist name matches several distinct artists of the warm catalogue."""

    def __init__(self, track_id: str, name: str, artist_ids: list[str]) -> None:
        self.track_id = track_id
        self.name = name
        self.artist_ids = artist_ids
        super().__init__(
            f"artist name {name!r} of track {track_id!r} matches {len(artist_ids)} artists "
            f"{artist_ids}; give an artist_id column, or set on_ambiguous_artist=skip to "
            f"project the track from its other features"
        )


class NoTrainingDataError(ColdStartError):
    """No warm track has both a space vector and at least one usable feature."""
