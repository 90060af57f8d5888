"""Manifest validation: every invalid row is reported with its row, column and value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moodflow.data import ManifestError, read_manifest, validate_manifest, write_manifest

MOODS = ("calm", "tense")
GENRES = ("rock", "pop")


def make_manifest(tmp_path, n_rows=4) -> pd.DataFrame:
    rows = []
    for index in range(n_rows):
        path = tmp_path / f"track{index}.wav"
        path.write_bytes(b"RIFF")
        rows.append(
            {
                "track_id": f"t{index}",
                "path": path.name,
                "group": f"artist{index // 2}",
                "genre": GENRES[index % 2],
                "calm": 0.25 * (index % 4),
                "tense": 1.0 - 0.25 * (index % 4),
                "title": f"Title {index}",
            }
        )
    return pd.DataFrame(rows)


def test_valid_manifest_resolves_paths(tmp_path):
    frame = make_manifest(tmp_path)

    table = validate_manifest(frame, MOODS, GENRES, root=tmp_path)

    assert table["path"].tolist() == [str(tmp_path / f"track{index}.wav") for index in range(4)]
    assert table["calm"].dtype == np.float32
    assert table["title"].tolist() == frame["title"].tolist()


def test_every_bad_row_is_listed(tmp_path):
    frame = make_manifest(tmp_path, n_rows=6)
    frame.loc[1, "path"] = "absent.wav"
    frame.loc[2, "genre"] = "polka"
    frame.loc[3, "calm"] = 1.5
    frame.loc[4, "track_id"] = "t0"
    frame.loc[5, "tense"] = np.nan

    with pytest.raises(ManifestError) as caught:
        validate_manifest(frame, MOODS, GENRES, root=tmp_path, source="tracks.csv")

    found = {(problem.row, problem.column): problem for problem in caught.value.problems}
    assert sorted(found) == [(2, "path"), (3, "genre"), (4, "calm"), (5, "track_id"), (6, "tense")]
    assert found[(2, "path")].value == str(tmp_path / "absent.wav")
    assert found[(3, "genre")].value == "polka"
    assert found[(4, "calm")].value == 1.5
    assert "duplicate of row 1" in found[(5, "track_id")].reason
    message = str(caught.value)
    assert "manifest tracks.csv" in message
    assert "row 3, column 'genre', value 'polka': unknown genre; allowed: ['rock', 'pop']" in message
    assert "row 4, column 'calm', value 1.5" in message


def test_missing_columns_are_named(tmp_path):
    frame = make_manifest(tmp_path).drop(columns=["group", "tense"])

    with pytest.raises(ManifestError, match=r"missing column\(s\) \['group', 'tense'\]"):
        validate_manifest(frame, MOODS, GENRES, root=tmp_path)


def test_empty_manifest_is_rejected(tmp_path):
    frame = make_manifest(tmp_path).iloc[:0]

    with pytest.raises(ManifestError, match="no rows"):
        validate_manifest(frame, MOODS, GENRES, root=tmp_path)


def test_text_mood_value_is_rejected(tmp_path):
    frame = make_manifest(tmp_path)
    frame["calm"] = frame["calm"].astype(object)
    frame.loc[0, "calm"] = "high"

    with pytest.raises(ManifestError) as caught:
        validate_manifest(frame, MOODS, GENRES, root=tmp_path)

    assert [(problem.row, problem.column, problem.value) for problem in caught.value.problems] == [(1, "calm", "high")]


def test_filtered_frame_keeps_file_row_numbers(tmp_path):
    frame = make_manifest(tmp_path)
    frame.loc[3, "genre"] = "polka"

    with pytest.raises(ManifestError) as caught:
        validate_manifest(frame.iloc[2:], MOODS, GENRES, root=tmp_path)

    assert [problem.row for problem in caught.value.problems] == [4]


def test_check_files_off_skips_existence(tmp_path):
    frame = make_manifest(tmp_path)
    frame.loc[0, "path"] = "not/yet/decoded.mp3"

    table = validate_manifest(frame, MOODS, GENRES, root=tmp_path, check_files=False)

    assert table.loc[0, "path"] == str(tmp_path / "not/yet/decoded.mp3")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_manifest_round_trip(tmp_path, suffix):
    frame = make_manifest(tmp_path)
    path = write_manifest(frame, tmp_path / f"manifest{suffix}")

    table = read_manifest(path, MOODS, GENRES)

    assert table["track_id"].tolist() == ["t0", "t1", "t2", "t3"]
    assert table["path"].tolist() == [str(tmp_path / f"track{index}.wav") for index in range(4)]
    np.testing.assert_allclose(table["calm"], [0.0, 0.25, 0.5, 0.75])


def test_long_problem_list_is_truncated(tmp_path):
    frame = make_manifest(tmp_path, n_rows=60)
    frame["genre"] = "polka"

    with pytest.raises(ManifestError) as caught:
        validate_manifest(frame, MOODS, GENRES, root=tmp_path)

    assert len(caught.value.problems) == 60
    assert "... and 10 more" in str(caught.value)
