"""Mood vocabulary, mappings on hand-checked values, and the mood table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from moodflow.errors import SpaceMismatchError
from moodflow.flow.catalogue import Catalogue
from moodflow.flow.moods import MoodConfigError, MoodVocabulary, UnknownMoodError, category_counts_from_playlists
from moodflow.flow.moodtable import build_mood_table, evaluate_predictor

REQUIRED_MOODS = {"chill", "energetic", "melancholy", "tender", "focus", "party"}
GEMS = ["amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power", "joyful_activation", "tension", "sadness"]


@pytest.fixture(scope="module")
def vocabulary() -> MoodVocabulary:
    return MoodVocabulary.load()


def test_vocabulary_has_required_moods(vocabulary):
    assert REQUIRED_MOODS <= set(vocabulary.moods)
    assert vocabulary.columns[0] == f"mood_{vocabulary.moods[0]}"


def test_emotion_mapping_hand_checked(vocabulary):
    # Pure calmness: chill weighs calmness 0.6 of 1.0, tender 0.2, focus 0.4.
    calm = pd.DataFrame([{e: (1.0 if e == "calmness" else 0.0) for e in GEMS}])
    scores = dict(zip(vocabulary.moods, vocabulary.from_emotions(calm)[0]))
    assert scores["chill"] == pytest.approx(0.6)
    assert scores["tender"] == pytest.approx(0.2)
    assert scores["focus"] == pytest.approx(0.4)
    assert scores["party"] == pytest.approx(0.0)

    # Joyful activation 0.5 and power 1.0: party = 0.7 * 0.5 + 0.3 * 1.0.
    lively = pd.DataFrame([{e: {"joyful_activation": 0.5, "power": 1.0}.get(e, 0.0) for e in GEMS}])
    scores = dict(zip(vocabulary.moods, vocabulary.from_emotions(lively)[0]))
    assert scores["party"] == pytest.approx(0.65)
    assert scores["energetic"] == pytest.approx(0.5 * 1.0 + 0.4 * 0.5)


def test_emotion_mapping_all_ones_is_one(vocabulary):
    ones = pd.DataFrame([{e: 1.0 for e in GEMS}])
    np.testing.assert_allclose(vocabulary.from_emotions(ones)[0], 1.0, rtol=1e-6)


def test_emotion_mapping_missing_column_named(vocabulary):
    with pytest.raises(MoodConfigError, match="sadness"):
        vocabulary.from_emotions(pd.DataFrame([{e: 0.1 for e in GEMS if e != "sadness"}]))


def test_valence_arousal_mapping_hand_checked(vocabulary):
    chill_centre = vocabulary.va_centres["chill"]
    scores = vocabulary.from_valence_arousal(np.array([chill_centre]))[0]
    assert scores[vocabulary.moods.index("chill")] == pytest.approx(1.0)

    # One sigma away along valence: exp(-1/2).
    sigma = vocabulary.va_sigma
    shifted = np.array([[chill_centre[0] + sigma, chill_centre[1]]])
    assert vocabulary.from_valence_arousal(shifted)[0][vocabulary.moods.index("chill")] == pytest.approx(math.exp(-0.5), rel=1e-5)

    # Sad and calm (low valence, low arousal) is melancholy, not party.
    sad = dict(zip(vocabulary.moods, vocabulary.from_valence_arousal(np.array([[-1.2, -0.8]]))[0]))
    assert sad["melancholy"] > 0.9
    assert sad["party"] < 0.01


def test_category_mapping_hand_checked(vocabulary):
    playlists = pd.DataFrame(
        {
            "playlist_id": ["p1", "p2", "p3", "p4", "p4"],
            "category": ["Depression", "Depression", "Sleep", "Theme", "Theme"],
            "song_id": ["sad", "sad", "sad", "sad", "other"],
        }
    )
    counts = category_counts_from_playlists(playlists)
    scores, usable = vocabulary.from_categories(counts)
    by_track = dict(zip(counts.index, scores))
    usable_by_track = dict(zip(counts.index, usable))
    melancholy = vocabulary.moods.index("melancholy")
    chill = vocabulary.moods.index("chill")
    # Two Depression segments and one Sleep segment; Theme carries no mood.
    assert by_track["sad"][melancholy] == pytest.approx(2 / 3)
    assert by_track["sad"][chill] == pytest.approx(1 / 3)
    assert usable_by_track["sad"]
    assert not usable_by_track["other"]


def test_config_rejects_unknown_mood_in_category(tmp_path):
    text = (MoodVocabulary.load.__defaults__[0]).read_text().replace("Punk: {energetic: 0.9}", "Punk: {angry: 0.9}")
    path = tmp_path / "moods.yaml"
    path.write_text(text)
    with pytest.raises(MoodConfigError, match="angry"):
        MoodVocabulary.load(path)


def test_unknown_mood_lists_vocabulary(vocabulary):
    with pytest.raises(UnknownMoodError, match="chill"):
        vocabulary.check_mood("grumpy")


def _labelled_space(n=600, dim=16, seed=0):
    """Vectors whose first two coordinates determine valence and arousal."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    valence_arousal = np.stack([vectors[:, 0] * 4, vectors[:, 1] * 4], axis=1)
    valence_arousal = (valence_arousal - valence_arousal.mean(0)) / valence_arousal.std(0)
    return vectors, valence_arousal.astype(np.float32)


def test_predictor_beats_mean_predictor(vocabulary):
    vectors, valence_arousal = _labelled_space()
    report = evaluate_predictor(vectors, valence_arousal, vocabulary.predictor, seed=0)
    for name in ("valence", "arousal"):
        assert report.r2[name] > 0.3
        assert report.pearson[name] > 0.6
        assert report.mean_predictor_r2[name] <= 0.0 + 1e-3


def test_mood_table_uses_best_source(vocabulary):
    vectors, valence_arousal = _labelled_space(n=200)
    track_ids = np.array([f"s{i}" for i in range(200)])
    tags = pd.DataFrame({"track_id": ["s0"], **{f"mood_{e}": [1.0 if e == "sadness" else 0.0] for e in GEMS}})
    labels = pd.DataFrame({"track_id": track_ids[:150], "valence": valence_arousal[:150, 0], "arousal": valence_arousal[:150, 1]})
    categories = pd.DataFrame({"Depression": [3, 0]}, index=["s1", "s160"])
    categories["Sleep"] = [0, 4]
    table = build_mood_table(vocabulary, track_ids, vectors, "space1", tags=tags, valence_arousal=labels, category_counts=categories)

    source = dict(zip(table["track_id"], table["source"]))
    assert source["s0"] == "tagger"
    assert source["s1"] == "valence_arousal"  # known labels beat playlist categories
    assert source["s160"] == "playlist_category"
    assert source["s199"] == "predicted_valence_arousal"
    assert (table["space_id"] == "space1").all()
    row0 = table.set_index("track_id").loc["s0"]
    assert row0["mood_melancholy"] == pytest.approx(0.6)
    assert table.set_index("track_id").loc["s160", "mood_chill"] == pytest.approx(1.0)
    mood_values = table[vocabulary.columns].to_numpy()
    assert mood_values.min() >= 0.0
    assert mood_values.max() <= 1.0


def test_catalogue_rejects_mood_table_of_other_space(vocabulary):
    moods = pd.DataFrame({"track_id": ["a"], **{c: [0.5] for c in vocabulary.columns}, "source": ["tagger"], "space_id": ["other"]})
    with pytest.raises(SpaceMismatchError, match="other"):
        Catalogue.from_tables(vocabulary, "mine", np.array(["a"]), np.ones((1, 4), np.float32), moods)


def test_catalogue_rejects_projections_of_other_space(vocabulary):
    moods = pd.DataFrame({"track_id": ["a"], **{c: [0.5] for c in vocabulary.columns}, "source": ["tagger"], "space_id": ["mine"]})
    projections = pd.DataFrame(
        {"track_id": ["new"], "vector": [np.ones(4, np.float32)], "features_used": ["artist"], "model_id": ["m"],
         "space_id": ["stale"], "projectable": [True], "reason": [""]}
    )
    with pytest.raises(SpaceMismatchError, match="stale"):
        Catalogue.from_tables(vocabulary, "mine", np.array(["a"]), np.ones((1, 4), np.float32), moods, projections=projections)


def test_catalogue_adds_projectable_releases_only(vocabulary):
    moods = pd.DataFrame({"track_id": ["a"], **{c: [0.5] for c in vocabulary.columns}, "source": ["tagger"], "space_id": ["mine"]})
    projections = pd.DataFrame(
        {"track_id": ["new1", "new2"], "vector": [np.full(4, 2.0, np.float32), None], "features_used": ["artist", ""],
         "model_id": ["m", "m"], "space_id": ["mine", "mine"], "projectable": [True, False], "reason": ["", "no features"]}
    )
    catalogue = Catalogue.from_tables(vocabulary, "mine", np.array(["a"]), np.ones((1, 4), np.float32), moods, projections=projections)
    assert list(catalogue.track_ids) == ["a", "new1"]
    assert list(catalogue.is_new_release) == [False, True]
    assert np.linalg.norm(catalogue.vectors[1]) == pytest.approx(1.0)
    assert catalogue.mood_sources[1] == "none"
    assert catalogue.mood_scores[1].max() == 0.0
