"""Adapters from the Emotify, folder-per-genre and MTG-Jamendo layouts to manifests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moodflow.data import (
    EMOTIFY_GENRE_LABELS,
    EMOTIFY_MOOD_LABELS,
    ManifestError,
    emotify_manifest,
    folder_genre_manifest,
    jamendo_manifest,
    read_jamendo_vocabulary,
)
from moodflow.synth import generate_clips
from tests.conftest import shared_data_path

JAMENDO_HEADER = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"audio")
    return path


def write_jamendo(tmp_path, lines):
    tsv = tmp_path / "autotagging_moodtheme.tsv"
    tsv.write_text("\n".join([JAMENDO_HEADER, *lines]) + "\n", encoding="utf-8")
    for line in lines:
        touch(tmp_path / "audio" / line.split("\t")[3])
    return tsv


def test_emotify_reads_synthetic_clips(tmp_path):
    paths = generate_clips(tmp_path, n_clips=12, clip_seconds=0.5, seed=4)
    tracks = pd.read_csv(paths.tracks_csv)

    manifest = emotify_manifest(tmp_path)

    assert manifest.mood_labels == EMOTIFY_MOOD_LABELS
    assert manifest.genre_labels == EMOTIFY_GENRE_LABELS
    assert manifest.table["track_id"].tolist() == tracks["track_id"].tolist()
    assert manifest.table["group"].tolist() == tracks["artist"].tolist()
    assert manifest.table["path"].tolist() == [str(tmp_path / path) for path in tracks["path"]]
    np.testing.assert_allclose(manifest.table["sadness"], tracks["sadness"], rtol=1e-6)


def test_emotify_reports_missing_audio(tmp_path):
    paths = generate_clips(tmp_path, n_clips=6, clip_seconds=0.5, seed=4)
    tracks = pd.read_csv(paths.tracks_csv)
    (tmp_path / tracks["path"][2]).unlink()

    with pytest.raises(ManifestError) as caught:
        emotify_manifest(tmp_path)

    assert [(problem.row, problem.column) for problem in caught.value.problems] == [(3, "path")]
    assert str(paths.tracks_csv) in str(caught.value)


@pytest.mark.data
def test_emotify_real_data():
    root = shared_data_path("emotify")

    manifest = emotify_manifest(root)

    assert len(manifest.table) == 400
    assert manifest.table["group"].nunique() == 138
    assert manifest.table["genre"].value_counts().to_dict() == {genre: 100 for genre in EMOTIFY_GENRE_LABELS}


def test_folder_genre_layout(tmp_path, caplog):
    touch(tmp_path / "jazz" / "Miles" / "so what.flac")
    touch(tmp_path / "jazz" / "Miles" / "blue.mp3")
    touch(tmp_path / "metal" / "loose.wav")
    touch(tmp_path / "metal" / "cover.jpg")
    touch(tmp_path / "notes.txt")

    manifest = folder_genre_manifest(tmp_path)
    table = manifest.table.set_index("track_id")

    assert manifest.genre_labels == ("jazz", "metal")
    assert manifest.mood_labels == ()
    assert sorted(table.index) == ["jazz/Miles/blue", "jazz/Miles/so what", "metal/loose"]
    assert table.loc["jazz/Miles/blue", "group"] == "Miles"
    assert table.loc["metal/loose", "group"] == "metal/loose"
    assert table.loc["metal/loose", "genre"] == "metal"
    assert "1 of 3 files sit directly in a genre folder" in caplog.text


def test_folder_genre_without_audio(tmp_path):
    touch(tmp_path / "jazz" / "readme.txt")

    with pytest.raises(ManifestError, match="no audio files"):
        folder_genre_manifest(tmp_path)


def test_jamendo_tags_become_labels(tmp_path):
    tsv = write_jamendo(
        tmp_path,
        [
            "track_0000214\tartist_000014\talbum_000031\t14/214.mp3\t124.6\tgenre---punkrock\tmood/theme---energetic",
            "track_0000215\tartist_000014\talbum_000031\t15/215.mp3\t98.0\tinstrument---guitar\tgenre---rock\tmood/theme---happy\tmood/theme---energetic",
            "track_0000300\tartist_000020\talbum_000040\t00/300.mp3\t200.0\tgenre---ambient\tmood/theme---calm",
        ],
    )

    manifest = jamendo_manifest(tsv, tmp_path / "audio", mood_labels=["calm", "energetic", "happy"], genre_labels=["ambient", "punkrock", "rock"])
    table = manifest.table.set_index("track_id")

    assert table.loc["track_0000214", "genre"] == "punkrock"
    assert table.loc["track_0000215", "genre"] == "rock"
    assert table.loc["track_0000215", ["calm", "energetic", "happy"]].tolist() == [0.0, 1.0, 1.0]
    assert table.loc["track_0000300", ["calm", "energetic", "happy"]].tolist() == [1.0, 0.0, 0.0]
    assert table.loc["track_0000300", "group"] == "artist_000020"
    assert table.loc["track_0000300", "duration_s"] == 200.0
    assert table.loc["track_0000214", "path"] == str(tmp_path / "audio" / "14" / "214.mp3")


def test_jamendo_vocabulary_files(tmp_path):
    vocabulary = tmp_path / "vocabulary"
    vocabulary.mkdir()
    (vocabulary / "moodtheme.txt").write_text("mood/theme---calm\nmood/theme---sad\n")
    (vocabulary / "genre.txt").write_text("genre---ambient\ngenre---rock\n")
    tsv = write_jamendo(tmp_path, ["t1\ta1\tb1\t01/1.mp3\t10.0\tgenre---electronic\tgenre---ambient\tmood/theme---sad"])

    manifest = jamendo_manifest(tsv, tmp_path / "audio", vocabulary_dir=vocabulary)

    assert manifest.mood_labels == ("calm", "sad")
    assert manifest.genre_labels == ("ambient", "rock")
    assert manifest.table.loc[0, "genre"] == "ambient"
    assert manifest.table.loc[0, "sad"] == 1.0


def test_jamendo_track_without_genre(tmp_path):
    tsv = write_jamendo(
        tmp_path,
        [
            "t1\ta1\tb1\t01/1.mp3\t10.0\tgenre---rock\tmood/theme---sad",
            "t2\ta2\tb2\t02/2.mp3\t10.0\tgenre---polka\tmood/theme---sad",
        ],
    )

    with pytest.raises(ManifestError) as caught:
        jamendo_manifest(tsv, tmp_path / "audio", genre_labels=["rock"])
    kept = jamendo_manifest(tsv, tmp_path / "audio", genre_labels=["rock"], drop_without_genre=True)

    assert [(problem.row, problem.column, problem.value) for problem in caught.value.problems] == [(2, "genre", "polka")]
    assert kept.table["track_id"].tolist() == ["t1"]


def test_jamendo_bad_header(tmp_path):
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("id\tpath\n1\ta.mp3\n")

    with pytest.raises(ManifestError, match="header must start with"):
        jamendo_manifest(tsv, tmp_path)


def test_vocabulary_with_wrong_prefix(tmp_path):
    path = tmp_path / "genre.txt"
    path.write_text("genre---rock\nmood/theme---sad\n")

    with pytest.raises(ManifestError, match="row 2"):
        read_jamendo_vocabulary(path, "genre---")


@pytest.mark.data
def test_jamendo_real_vocabularies():
    root = shared_data_path("mtg-jamendo-tags")

    moods = read_jamendo_vocabulary(root / "moodtheme.txt", "mood/theme---")
    genres = read_jamendo_vocabulary(root / "genre.txt", "genre---")

    assert len(moods) == 59
    assert len(genres) == 87
    assert "happy" in moods
    assert "rock" in genres
