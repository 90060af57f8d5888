"""Deterministic generators of synthetic data for the demo and the tests.

Everything written here is synthetic: clips rendered from a genre and a
valence/arousal point, with simulated listener votes in the Emotify layout,
and a linked corpus whose clips, playlists and listening histories derive
from the same hidden factors.
"""

from moodflow.synth.clips import (
    GEMS_EMOTIONS,
    TRACKS_COLUMNS,
    ClipSetPaths,
    generate_clips,
    gems_probabilities,
    simulate_votes,
)
from moodflow.synth.corpus import CorpusPaths, generate_corpus
from moodflow.synth.music import GENRES, ClipStyle, render_clip

__all__ = [
    "GEMS_EMOTIONS",
    "GENRES",
    "TRACKS_COLUMNS",
    "ClipSetPaths",
    "ClipStyle",
    "CorpusPaths",
    "generate_clips",
    "generate_corpus",
    "gems_probabilities",
    "render_clip",
    "simulate_votes",
]
