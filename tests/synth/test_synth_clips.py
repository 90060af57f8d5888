"""The synthetic clip generator: layout, determinism, speed and audible labels."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy.stats import spearmanr

from moodflow.synth import GEMS_EMOTIONS, GENRES, TRACKS_COLUMNS, ClipStyle, generate_clips, render_clip

REPO_ROOT = Path(__file__).resolve().parents[2]
EMOTIFY_COLUMNS = (
    "track_id,path,genre,artist,album,title,year,id3_genre,n_listeners,amazement,solemnity,"
    "tenderness,nostalgia,calmness,power,joyful_activation,tension,sadness,liked,disliked"
).split(",")


def folder_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_tracks_csv_has_emotify_layout(tmp_path):
    paths = generate_clips(tmp_path, n_clips=12, clip_seconds=1.0, seed=3)

    tracks = pd.read_csv(paths.tracks_csv)

    assert list(tracks.columns) == EMOTIFY_COLUMNS
    assert list(TRACKS_COLUMNS) == EMOTIFY_COLUMNS
    assert len(tracks) == 12
    assert tracks["track_id"].is_unique
    assert set(tracks["genre"]) == set(GENRES)
    assert tracks[list(GEMS_EMOTIONS) + ["liked", "disliked"]].stack().between(0.0, 1.0).all()
    assert tracks["n_listeners"].between(11, 59).all()


def test_every_artist_has_several_tracks(tmp_path):
    paths = generate_clips(tmp_path, n_clips=24, clip_seconds=0.5, seed=0)

    tracks = pd.read_csv(paths.tracks_csv)
    per_artist = tracks.groupby("artist")["track_id"].count()
    genres_per_artist = tracks.groupby("artist")["genre"].nunique()

    assert len(per_artist) == 8
    assert per_artist.min() >= 2
    assert per_artist.max() > per_artist.min()
    assert genres_per_artist.max() == 1
    assert tracks.groupby("genre")["artist"].nunique().to_dict() == {genre: 2 for genre in GENRES}


def test_paths_point_to_wav_files(tmp_path):
    paths = generate_clips(tmp_path, n_clips=8, clip_seconds=1.5, sample_rate=16_000, seed=1)

    tracks = pd.read_csv(paths.tracks_csv)

    for relative_path, genre in zip(tracks["path"], tracks["genre"]):
        assert relative_path.startswith(f"audio/{genre}/")
        info = sf.info(paths.root / relative_path)
        assert info.samplerate == 16_000
        assert info.channels == 1
        assert info.frames == 24_000


def test_same_seed_is_byte_identical(tmp_path):
    generate_clips(tmp_path / "first", n_clips=8, clip_seconds=1.0, seed=7)
    generate_clips(tmp_path / "second", n_clips=8, clip_seconds=1.0, seed=7)
    generate_clips(tmp_path / "other", n_clips=8, clip_seconds=1.0, seed=8)

    first = folder_digest(tmp_path / "first")

    assert first == folder_digest(tmp_path / "second")
    assert first != folder_digest(tmp_path / "other")


def test_small_set_is_fast(tmp_path):
    start = time.perf_counter()
    generate_clips(tmp_path, n_clips=24, clip_seconds=4.0, sample_rate=16_000, seed=0)
    elapsed = time.perf_counter() - start

    # About 1 s on the shared 2-core machine; the bound leaves room for load.
    assert elapsed < 15.0


def test_render_clip_peak_follows_arousal():
    rng_calm, rng_loud = np.random.default_rng(0), np.random.default_rng(0)

    calm = render_clip(ClipStyle("pop", 0.5, -0.8), 2.0, 16_000, rng_calm)
    loud = render_clip(ClipStyle("pop", 0.5, 0.8), 2.0, 16_000, rng_loud)

    assert calm.dtype == np.float32
    assert calm.size == 32_000
    assert np.abs(calm).max() == pytest.approx(0.25, abs=1e-4)
    assert np.abs(loud).max() == pytest.approx(0.65, abs=1e-4)


def test_render_clip_rejects_bad_style():
    with pytest.raises(ValueError, match="unknown genre"):
        ClipStyle("jazz", 0.0, 0.0)
    with pytest.raises(ValueError, match="valence"):
        ClipStyle("rock", 1.5, 0.0)


def test_labels_are_audible(tmp_path):
    """Simple audio features predict the genre and track the power votes."""
    import librosa
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    paths = generate_clips(tmp_path, n_clips=48, clip_seconds=3.0, sample_rate=16_000, seed=11)
    tracks = pd.read_csv(paths.tracks_csv)

    features, rms = [], []
    for relative_path in tracks["path"]:
        samples, _ = sf.read(paths.root / relative_path, dtype="float32")
        mfcc = librosa.feature.mfcc(y=samples, sr=16_000, n_mfcc=13)
        features.append(np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]))
        rms.append(float(np.sqrt(np.mean(samples**2))))

    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    scores = cross_val_score(
        classifier, np.array(features), tracks["genre"], groups=tracks["artist"],
        cv=StratifiedGroupKFold(4, shuffle=True, random_state=0),
    )
    correlation = spearmanr(rms, tracks["power"]).statistic

    assert scores.mean() > 0.8
    assert correlation > 0.5


def test_script_writes_clip_set(tmp_path):
    out_dir = tmp_path / "synthetic-emotify"

    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "generate_synthetic.py"), "clips", str(out_dir),
         "--n-clips", "4", "--clip-seconds", "0.5", "--seed", "2"],
        capture_output=True, text=True, check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out_dir / "tracks.csv")
    assert len(pd.read_csv(out_dir / "tracks.csv")) == 4
