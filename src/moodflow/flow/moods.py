"""Mood vocabulary and the mappings from each label source to mood scores.

A mood score is a number in [0, 1] per track and mood. Scores come from one
of four sources, tried in the configured priority order:

- `tagger`: the tagger's emotion probabilities (`mood_<emotion>` columns of
  tags.parquet), mapped by a weighted mean;
- `valence_arousal`: known standardised valence/arousal, mapped by a Gaussian
  kernel around each mood's centre;
- `playlist_category`: the mean mood vector of the categories of the
  playlists a track appears in;
- `predicted_valence_arousal`: valence/arousal predicted from the track's
  space vector by a regressor trained on the labelled tracks.

The mood table (`moods.parquet`) has `track_id`, one `mood_<name>` column per
mood, `source`, and `space_id`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from moodflow.errors import MoodflowError

logger = logging.getLogger(__name__)

SOURCES = ("tagger", "valence_arousal", "playlist_category", "predicted_valence_arousal")
DEFAULT_MOODS_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "moods.yaml"


class MoodConfigError(MoodflowError):
    """The mood configuration is invalid."""


class UnknownMoodError(MoodflowError):
    """A request names a mood that is not in the vocabulary."""

    def __init__(self, mood: str, known: list[str]) -> None:
        self.mood = mood
        self.known = known
        super().__init__(f"unknown mood {mood!r}; choose one of {', '.join(known)}")


@dataclass
class MoodVocabulary:
    """Moods and the per-source mappings read from `configs/moods.yaml`."""

    moods: list[str]
    source_priority: list[str]
    emotion_weights: dict[str, dict[str, float]]
    va_sigma: float
    va_centres: dict[str, tuple[float, float]]
    category_map: dict[str, dict[str, float]]
    category_min_segments: int
    predictor: dict = field(default_factory=dict)
    rescale_predictions: bool = True
    thresholds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MOODS_CONFIG) -> MoodVocabulary:
        """Read and validate a moods YAML file, naming the file in any error."""
        path = Path(path)
        if not path.exists():
            raise MoodConfigError(f"mood config not found: {path}")
        raw = yaml.safe_load(path.read_text())
        try:
            vocabulary = cls(
                moods=list(raw["moods"]),
                source_priority=list(raw["source_priority"]),
                emotion_weights={m: dict(w) for m, w in raw["emotions"].items()},
                va_sigma=float(raw["valence_arousal"]["sigma"]),
                va_centres={m: tuple(c) for m, c in raw["valence_arousal"]["centres"].items()},
                category_map={c: dict(w) for c, w in raw["playlist_categories"]["map"].items()},
                category_min_segments=int(raw["playlist_categories"]["min_segments"]),
                predictor=dict(raw.get("predictor") or {}),
                rescale_predictions=bool(raw.get("rescale_predictions", True)),
                thresholds={m: float(t) for m, t in (raw.get("thresholds") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MoodConfigError(f"invalid mood config {path}: {type(error).__name__}: {error}") from error
        vocabulary.validate(path)
        return vocabulary

    def validate(self, path: str | Path = "<memory>") -> None:
        """Raise `MoodConfigError` unless every mapping covers exactly the vocabulary."""
        if len(self.moods) == 0 or len(set(self.moods)) != len(self.moods):
            raise MoodConfigError(f"{path}: moods must be a non-empty list of unique names, got {self.moods}")
        unknown_sources = [s for s in self.source_priority if s not in SOURCES]
        if unknown_sources:
            raise MoodConfigError(f"{path}: unknown source(s) {unknown_sources}; allowed: {', '.join(SOURCES)}")
        for section, keys in (("emotions", self.emotion_weights), ("valence_arousal.centres", self.va_centres)):
            if sorted(keys) != sorted(self.moods):
                raise MoodConfigError(f"{path}: {section} must define exactly the moods {self.moods}, got {sorted(keys)}")
        for mood, weights in self.emotion_weights.items():
            if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
                raise MoodConfigError(f"{path}: emotion weights of {mood!r} must be >= 0 with a positive sum, got {weights}")
        for category, scores in self.category_map.items():
            bad = {m: s for m, s in scores.items() if m not in self.moods or not 0 <= s <= 1}
            if bad:
                raise MoodConfigError(f"{path}: category {category!r} has invalid mood scores {bad}; moods {self.moods}, scores in [0, 1]")
        if self.va_sigma <= 0:
            raise MoodConfigError(f"{path}: valence_arousal.sigma must be > 0, got {self.va_sigma}")

    @property
    def columns(self) -> list[str]:
        """The mood-table column names, `mood_<name>` in vocabulary order."""
        return [f"mood_{m}" for m in self.moods]

    def check_mood(self, mood: str) -> int:
        """Return the column position of `mood` or raise `UnknownMoodError`."""
        if mood not in self.moods:
            raise UnknownMoodError(mood, self.moods)
        return self.moods.index(mood)

    def threshold(self, mood: str) -> float:
        return self.thresholds.get(mood, 0.5)

    # --- mappings -------------------------------------------------------------

    def from_emotions(self, probabilities: pd.DataFrame) -> np.ndarray:
        """Map emotion probabilities [n, emotions] (columns named by emotion) to scores [n, moods]."""
        scores = np.zeros((len(probabilities), len(self.moods)), dtype=np.float32)
        for j, mood in enumerate(self.moods):
            weights = self.emotion_weights[mood]
            missing = [e for e in weights if e not in probabilities.columns]
            if missing:
                raise MoodConfigError(
                    f"tagger output lacks emotion column(s) {missing} needed by mood {mood!r}; "
                    f"found {list(probabilities.columns)}"
                )
            total = sum(weights.values())
            for emotion, weight in weights.items():
                scores[:, j] += weight / total * probabilities[emotion].to_numpy(dtype=np.float32)
        return np.clip(scores, 0.0, 1.0)

    def from_valence_arousal(self, valence_arousal: np.ndarray) -> np.ndarray:
        """Map standardised valence/arousal [n, 2] to scores [n, moods] with a Gaussian kernel."""
        points = np.asarray(valence_arousal, dtype=np.float32).reshape(-1, 2)
        centres = np.array([self.va_centres[m] for m in self.moods], dtype=np.float32)
        squared = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        return np.exp(-squared / (2.0 * self.va_sigma**2)).astype(np.float32)

    def from_categories(self, category_counts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Map per-track category counts [n, categories] to scores [n, moods].

        Returns the scores and a boolean mask of the tracks with at least
        `category_min_segments` segments in mood-bearing categories. The
        other rows are zero and must not be used.
        """
        scores = np.zeros((len(category_counts), len(self.moods)), dtype=np.float32)
        totals = np.zeros(len(category_counts), dtype=np.float32)
        for category, mood_scores in self.category_map.items():
            if category not in category_counts.columns:
                continue
            counts = category_counts[category].to_numpy(dtype=np.float32)
            totals += counts
            for mood, value in mood_scores.items():
                scores[:, self.moods.index(mood)] += counts * value
        usable = totals >= self.category_min_segments
        scores[usable] /= totals[usable, None]
        scores[~usable] = 0.0
        return scores, usable


def category_counts_from_playlists(playlists: pd.DataFrame, track_column: str = "song_id") -> pd.DataFrame:
    """Count, per track, the playlist segments of each category (one count per segment)."""
    unique = playlists[["playlist_id", "category", track_column]].drop_duplicates()
    return pd.crosstab(unique[track_column], unique["category"])
