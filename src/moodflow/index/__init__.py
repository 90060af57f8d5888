"""Faiss nearest-neighbour index over a music space (`TrackIndex`)."""

from moodflow.index.rerank import CooccurrenceRerank
from moodflow.index.track_index import (
    DEFAULT_PARAMS,
    KINDS,
    IndexBuildError,
    IndexFileError,
    TrackIndex,
)

__all__ = ["CooccurrenceRerank", "DEFAULT_PARAMS", "KINDS", "IndexBuildError", "IndexFileError", "TrackIndex"]
