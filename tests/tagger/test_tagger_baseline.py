"""Baseline features, feature cache and logistic-regression heads."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from moodflow.tagger.baseline import (
    FEATURE_SAMPLE_RATE,
    BaselineTagger,
    FeatureCache,
    extract_features,
    feature_names,
    features_for_tracks,
)

SAMPLE_RATE = FEATURE_SAMPLE_RATE


def click_track(bpm: float, seconds: float) -> np.ndarray:
    audio = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    click = np.hanning(200).astype(np.float32)
    for start in np.arange(0, seconds, 60.0 / bpm):
        index = int(start * SAMPLE_RATE)
        audio[index : index + click.size] += click[: audio.size - index]
    return audio


def test_features_have_documented_size():
    vector = extract_features(np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32))
    assert vector.shape == (81,)
    assert len(feature_names()) == 81
    assert vector.dtype == np.float32


def test_features_of_silence_are_finite():
    vector = extract_features(np.zeros(SAMPLE_RATE, dtype=np.float32))
    assert np.all(np.isfinite(vector))


def test_tempo_feature_of_click_track():
    vector = extract_features(click_track(120.0, 8.0))
    tempo = vector[feature_names().index("tempo_bpm")]
    assert tempo == pytest.approx(120.0, rel=0.05)


def test_chroma_peaks_at_tone_pitch_class():
    time_s = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    vector = extract_features((0.5 * np.sin(2 * np.pi * 440.0 * time_s)).astype(np.float32))
    names = feature_names()
    chroma_means = [vector[names.index(f"chroma{index}_mean")] for index in range(12)]
    # librosa's chroma starts at C, so A (440 Hz) is bin 9.
    assert int(np.argmax(chroma_means)) == 9


def test_feature_cache_hit_and_invalidation(tmp_path):
    audio_path = tmp_path / "tone.wav"
    sf.write(audio_path, np.zeros(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    cache = FeatureCache(tmp_path / "cache")
    calls = []

    def load(path, sample_rate):
        calls.append(path)
        return sf.read(path, dtype="float32")[0]

    first = features_for_tracks([audio_path], cache, load=load)
    second = features_for_tracks([audio_path], cache, load=load)
    assert len(calls) == 1
    np.testing.assert_array_equal(first, second)

    sf.write(audio_path, 0.5 * np.ones(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    features_for_tracks([audio_path], cache, load=load)
    assert len(calls) == 2


def test_baseline_separates_labelled_clusters():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 10)) * 3
    genre = np.repeat(np.arange(3), 20)
    features = centres[genre] + rng.standard_normal((60, 10))
    moods = np.stack([genre == 0, genre != 2], axis=1)
    tagger = BaselineTagger(["calm", "bright"], ["a", "b", "c"]).fit(features, moods, genre)
    mood_scores, genre_probs = tagger.predict(features)
    assert mood_scores.shape == (60, 2)
    assert np.mean(genre_probs.argmax(axis=1) == genre) > 0.95
    assert np.allclose(genre_probs.sum(axis=1), 1.0)
    assert mood_scores[genre == 0, 0].mean() > 0.8
    assert mood_scores[genre == 2, 1].mean() < 0.2


def test_genre_missing_from_training_gets_zero():
    rng = np.random.default_rng(1)
    features = rng.standard_normal((20, 4))
    genre = np.array([0, 2] * 10)
    moods = np.zeros((20, 1), dtype=bool)
    moods[::3] = True
    _, genre_probs = BaselineTagger(["calm"], ["a", "b", "c"]).fit(features, moods, genre).predict(features)
    assert genre_probs.shape == (20, 3)
    assert np.all(genre_probs[:, 1] == 0.0)


def test_mood_with_one_class_gets_constant_score():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((12, 4))
    moods = np.stack([np.arange(12) % 2 == 0, np.zeros(12, dtype=bool)], axis=1)
    mood_scores, _ = BaselineTagger(["calm", "never"], ["a", "b"]).fit(features, moods, np.arange(12) % 2).predict(features)
    assert np.allclose(mood_scores[:, 1], mood_scores[0, 1])
