"""Deterministic generators of synthetic data for the demo and the tests.

Everything written here is synthetic: clips rendered from a genre and a
valence/arousal point, with simulated listener votes in the Emotify layout.
"""

from moodflow.synth.clips import (
    GEMS_EMOTIONS,
    TRACKS_COLUMNS,
    ClipSetPaths,
    generate_clips,
    gems_probabilities,
    simulate_votes,
)
from moodflow.synth.music import GENRES, ClipStyle, render_clip

__all__ = [
    "GEMS_EMOTIONS",
    "GENRES",
    "TRACKS_COLUMNS",
    "ClipSetPaths",
    "ClipStyle",
    "generate_clips",
    "gems_probabilities",
    "render_clip",
    "simulate_votes",
]
