"""The linked synthetic corpus: layout, determinism, and usage that follows the hidden factors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moodflow.data import emotify_manifest
from moodflow.synth import GENRES, generate_corpus
from moodflow.synth.corpus import AROUSAL_DIM, FACTOR_DIM, GENRE_DIMS, VALENCE_DIM

TINY = dict(n_tracks=40, n_artists=10, n_playlists=80, n_users=12, n_new_releases=4, clip_seconds=0.5, sample_rate=16_000)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_corpus(tmp_path_factory.mktemp("corpus"), seed=0, **TINY)


def folder_digest(root):
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_tables_have_documented_columns(corpus):
    metadata = pd.read_csv(corpus.track_metadata_csv)
    playlists = pd.read_csv(corpus.playlists_csv)
    history = pd.read_csv(corpus.listening_history_csv)

    assert list(metadata.columns) == [
        "track_id", "title", "artist", "album", "genre", "valence", "arousal", "is_new_release", "factor_row",
    ]
    assert list(playlists.columns) == ["playlist_id", "track_id", "position", "category"]
    assert list(history.columns) == ["user_id", "track_id", "plays", "last_played"]
    assert len(metadata) == 44
    assert metadata["is_new_release"].sum() == 4
    assert playlists["playlist_id"].nunique() == 80
    assert history["user_id"].nunique() == 12


def test_every_name_says_synthetic(corpus):
    written = [path.name for path in corpus.root.iterdir()]

    assert sorted(written) == [
        "synthetic_clips",
        "synthetic_hidden_factors.npy",
        "synthetic_listening_history.csv",
        "synthetic_new_releases",
        "synthetic_playlists.csv",
        "synthetic_track_metadata.csv",
    ]
    metadata = pd.read_csv(corpus.track_metadata_csv)
    assert metadata["track_id"].str.startswith("synthetic-").all()
    assert metadata["artist"].str.startswith("Synthetic Artist").all()


def test_playlist_positions_and_history_values(corpus):
    playlists = pd.read_csv(corpus.playlists_csv)
    history = pd.read_csv(corpus.listening_history_csv)

    for _, members in playlists.groupby("playlist_id"):
        assert members["position"].tolist() == list(range(len(members)))
        assert members["track_id"].is_unique
        assert 5 <= len(members) <= 15
    assert (history["plays"] >= 1).all()
    dates = pd.to_datetime(history["last_played"], format="%Y-%m-%d")
    assert dates.min() >= pd.Timestamp("2026-01-01")
    assert dates.max() < pd.Timestamp("2027-01-01")
    assert not history.duplicated(["user_id", "track_id"]).any()


def test_new_releases_have_no_usage(corpus):
    metadata = pd.read_csv(corpus.track_metadata_csv)
    new_ids = set(metadata.loc[metadata["is_new_release"], "track_id"])
    warm_artists = set(metadata.loc[~metadata["is_new_release"], "artist"])
    new_artists = metadata.loc[metadata["is_new_release"], "artist"].tolist()

    assert new_ids.isdisjoint(pd.read_csv(corpus.playlists_csv)["track_id"])
    assert new_ids.isdisjoint(pd.read_csv(corpus.listening_history_csv)["track_id"])
    assert set(pd.read_csv(corpus.new_releases_tracks_csv)["track_id"]) == new_ids
    assert all(artist in warm_artists for artist in new_artists[:-1])
    assert new_artists[-1] not in warm_artists


def test_clip_folders_read_as_emotify(corpus):
    warm = emotify_manifest(corpus.clips_dir)
    new = emotify_manifest(corpus.new_releases_dir)

    assert len(warm.table) == 40
    assert len(new.table) == 4
    assert warm.table["group"].nunique() == 10


def test_factors_match_labels(corpus):
    factors = np.load(corpus.hidden_factors_npy)
    metadata = pd.read_csv(corpus.track_metadata_csv)

    assert factors.shape == (44, FACTOR_DIM)
    assert factors.dtype == np.float32
    rows = metadata["factor_row"].to_numpy()
    np.testing.assert_allclose(metadata["valence"], factors[rows, VALENCE_DIM], atol=1e-4)
    np.testing.assert_allclose(metadata["arousal"], factors[rows, AROUSAL_DIM], atol=1e-4)
    genres = [GENRES[index] for index in factors[rows, GENRE_DIMS].argmax(axis=1)]
    assert metadata["genre"].tolist() == genres


def test_cooccurrence_follows_factors(corpus):
    factors = np.load(corpus.hidden_factors_npy)
    metadata = pd.read_csv(corpus.track_metadata_csv)
    row_of = dict(zip(metadata["track_id"], metadata["factor_row"]))
    playlists = pd.read_csv(corpus.playlists_csv)

    together = []
    for _, members in playlists.groupby("playlist_id"):
        for first, second in combinations(members["track_id"], 2):
            together.append(np.linalg.norm(factors[row_of[first]] - factors[row_of[second]]))
    warm = factors[~metadata["is_new_release"].to_numpy()]
    all_pairs = [np.linalg.norm(warm[i] - warm[j]) for i, j in combinations(range(len(warm)), 2)]

    # The ratio is about 0.72 for this tiny corpus and 0.54 for the default sizes.
    assert np.mean(together) < 0.8 * np.mean(all_pairs)


def test_same_seed_is_byte_identical(tmp_path):
    generate_corpus(tmp_path / "first", seed=5, **TINY)
    generate_corpus(tmp_path / "second", seed=5, **TINY)
    generate_corpus(tmp_path / "other", seed=6, **TINY)

    first = folder_digest(tmp_path / "first")

    assert first == folder_digest(tmp_path / "second")
    assert first != folder_digest(tmp_path / "other")


def test_tiny_corpus_is_fast(tmp_path):
    start = time.perf_counter()
    generate_corpus(tmp_path, seed=0, **TINY)
    elapsed = time.perf_counter() - start

    # About 1 s on the shared 2-core machine; the bound leaves room for load.
    assert elapsed < 15.0


def test_invalid_sizes_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="n_artists"):
        generate_corpus(tmp_path, n_tracks=10, n_artists=20)
    with pytest.raises(ValueError, match="n_users"):
        generate_corpus(tmp_path, n_tracks=10, n_artists=4, n_users=-1)


def test_script_writes_corpus(tmp_path):
    script = Path(__file__).resolve().parents[2] / "scripts" / "generate_synthetic.py"
    out_dir = tmp_path / "synthetic-corpus"

    result = subprocess.run(
        [sys.executable, str(script), "corpus", str(out_dir), "--n-tracks", "12", "--n-artists", "4",
         "--n-playlists", "5", "--n-users", "2", "--n-new-releases", "2", "--clip-seconds", "0.5"],
        capture_output=True, text=True, check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out_dir)
    assert len(pd.read_csv(out_dir / "synthetic_track_metadata.csv")) == 14
