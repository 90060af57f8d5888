"""The hand-made baseline: librosa summary features and logistic regression.

Each track, decoded at 22,050 Hz, becomes one vector of 81 numbers. These are
the mean and standard deviation over frames of 20 MFCCs, 7 spectral-contrast
bands and 12 chroma bins, then the estimated tempo (BPM) and the mean and
standard deviation of the onset strength. Features are standardised, then one
logistic regression per binarised emotion (one-vs-rest) and one multinomial
logistic regression for the genre are fitted.

Per-track features are cached as `.npy` files named by a content hash of the
audio bytes, the feature version and the sample rate, so an edited file or a
changed recipe is never served from a stale entry.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import librosa
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from moodflow.errors import MoodflowError
from moodflow.hashing import content_hash

logger = logging.getLogger(__name__)

FEATURE_SAMPLE_RATE = 22_050
HOP_LENGTH = 512
N_MFCC = 20
# Bump when the recipe changes, so cached vectors of the old recipe are not reused.
FEATURE_VERSION = "1"


def feature_names() -> list[str]:
    """Return the names of the 81 baseline features, in vector order."""
    names: list[str] = []
    for family, size in (("mfcc", N_MFCC), ("contrast", 7), ("chroma", 12)):
        names += [f"{family}{index}_mean" for index in range(size)]
        names += [f"{family}{index}_std" for index in range(size)]
    names += ["tempo_bpm", "onset_strength_mean", "onset_strength_std"]
    return names


def extract_features(waveform: np.ndarray, sample_rate: int = FEATURE_SAMPLE_RATE) -> np.ndarray:
    """Summarise a mono waveform as the baseline's float32 feature vector."""
    waveform = np.asarray(waveform, dtype=np.float32)
    mfcc = librosa.feature.mfcc(y=waveform, sr=sample_rate, n_mfcc=N_MFCC, hop_length=HOP_LENGTH)
    stft_magnitude = np.abs(librosa.stft(waveform, hop_length=HOP_LENGTH))
    contrast = librosa.feature.spectral_contrast(S=stft_magnitude, sr=sample_rate, hop_length=HOP_LENGTH)
    chroma = librosa.feature.chroma_stft(S=stft_magnitude**2, sr=sample_rate, hop_length=HOP_LENGTH)
    onset_envelope = librosa.onset.onset_strength(y=waveform, sr=sample_rate, hop_length=HOP_LENGTH)
    tempo = librosa.feature.tempo(onset_envelope=onset_envelope, sr=sample_rate, hop_length=HOP_LENGTH)

    parts = []
    for frames in (mfcc, contrast, chroma):
        parts += [frames.mean(axis=1), frames.std(axis=1)]
    parts.append(np.array([float(tempo[0]), onset_envelope.mean(), onset_envelope.std()]))
    vector = np.concatenate(parts).astype(np.float32)
    # Silence gives zero-variance frames, which stay finite, so a NaN here means broken input audio.
    if not np.all(np.isfinite(vector)):
        raise MoodflowError("baseline features contain NaN or infinite values; check the decoded audio")
    return vector


class FeatureCache:
    """A folder of per-track baseline feature vectors keyed by audio content."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def key(self, audio_path: Path) -> str:
        return content_hash([audio_path, f"features-v{FEATURE_VERSION}", str(FEATURE_SAMPLE_RATE)])

    def get(self, audio_path: Path) -> np.ndarray | None:
        entry = self.folder / f"{self.key(audio_path)}.npy"
        return np.load(entry) if entry.exists() else None

    def put(self, audio_path: Path, vector: np.ndarray) -> None:
        entry = self.folder / f"{self.key(audio_path)}.npy"
        temporary = entry.with_suffix(".tmp.npy")
        np.save(temporary, vector)
        temporary.replace(entry)


def features_for_tracks(
    paths: Sequence[Path],
    cache: FeatureCache | None = None,
    load: Callable[[Path, int], np.ndarray] | None = None,
) -> np.ndarray:
    """Return a `[n_tracks, 81]` float32 feature matrix, reading the cache first.

    `load(path, sample_rate)` decodes a file to mono float32, and the default
    is `moodflow.audio.load_audio`. A file that fails to decode raises that
    loader's error, which names the path.
    """
    if load is None:
        from moodflow.audio.loading import load_audio as load

    started = time.perf_counter()
    vectors = []
    n_extracted = 0
    for index, path in enumerate(paths):
        path = Path(path)
        vector = cache.get(path) if cache is not None else None
        if vector is None:
            vector = extract_features(load(path, FEATURE_SAMPLE_RATE), FEATURE_SAMPLE_RATE)
            n_extracted += 1
            if cache is not None:
                cache.put(path, vector)
        vectors.append(vector)
        if n_extracted and (index + 1) % 50 == 0:
            logger.info("baseline features: %d/%d tracks, %.1f s", index + 1, len(paths), time.perf_counter() - started)
    logger.info(
        "baseline features for %d tracks (%d extracted, %d from cache) in %.1f s",
        len(paths), n_extracted, len(paths) - n_extracted, time.perf_counter() - started,
    )
    return np.stack(vectors) if vectors else np.zeros((0, len(feature_names())), dtype=np.float32)


class BaselineTagger:
    """Standardised features, one-vs-rest logistic regression for moods, multinomial for genre."""

    def __init__(self, mood_labels: Sequence[str], genre_labels: Sequence[str], C: float = 1.0, max_iter: int = 5000) -> None:
        self.mood_labels = list(mood_labels)
        self.genre_labels = list(genre_labels)
        self.C = C
        self.max_iter = max_iter
        self.mood_model: Pipeline | None = None
        self.genre_model: Pipeline | None = None

    def fit(self, features: np.ndarray, mood_binary: np.ndarray, genre_index: np.ndarray) -> BaselineTagger:
        """Fit both heads. `mood_binary` is `[n, n_moods]` bool, `genre_index` indexes `genre_labels`."""
        if features.shape[0] != mood_binary.shape[0] or features.shape[0] != genre_index.shape[0]:
            raise MoodflowError(
                f"baseline fit got {features.shape[0]} feature rows, {mood_binary.shape[0]} mood rows "
                f"and {genre_index.shape[0]} genre rows; they must match"
            )
        self.mood_model = make_pipeline(
            StandardScaler(), OneVsRestClassifier(LogisticRegression(C=self.C, max_iter=self.max_iter))
        )
        with warnings.catch_warnings():
            # An emotion with one class in the training fold gets a constant
            # predictor from OneVsRestClassifier, which warns; the metrics
            # then report that emotion as undefined where it matters.
            warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
            self.mood_model.fit(features, mood_binary.astype(int))
        self.genre_model = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter))
        self.genre_model.fit(features, genre_index)
        return self

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return mood scores `[n, n_moods]` and genre probabilities `[n, n_genres]`."""
        if self.mood_model is None or self.genre_model is None:
            raise MoodflowError("the baseline must be fitted before predict")
        mood_scores = self.mood_model.predict_proba(features)
        # Genres absent from the training rows get probability 0.
        genre_probs = np.zeros((features.shape[0], len(self.genre_labels)))
        genre_probs[:, self.genre_model.classes_] = self.genre_model.predict_proba(features)
        return mood_scores, genre_probs
