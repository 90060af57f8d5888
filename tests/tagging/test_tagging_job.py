"""End-to-end checks of `moodflow tag` on the local engine: schema, values, resume, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from tagging_audio import GENRES, MOODS, SAMPLE_RATE, tone, write_valid_folder

from moodflow.audio.loading import load_audio
from moodflow.errors import MoodflowError
from moodflow.tagger.bundle import load_bundle
from moodflow.tagging import read_errors, read_tags, run_tagging
from moodflow.tagging import cli as tag_cli
from moodflow.tagging.store import ERRORS_FOLDER, TaggingOutputError, TagStore

FLOAT_COLUMNS = [f"mood_{label}" for label in MOODS] + [f"genre_{label}" for label in GENRES]


def _sorted_tags(folder: Path, model_id: str | None = None) -> pd.DataFrame:
    return read_tags(folder, model_id).sort_values("track_id").reset_index(drop=True)


def assert_same_rows(left: pd.DataFrame, right: pd.DataFrame, atol: float = 1e-5) -> None:
    assert left["track_id"].tolist() == right["track_id"].tolist()
    assert left["model_id"].tolist() == right["model_id"].tolist()
    np.testing.assert_allclose(left["duration_s"], right["duration_s"], atol=1e-6)
    np.testing.assert_allclose(left[FLOAT_COLUMNS].to_numpy(), right[FLOAT_COLUMNS].to_numpy(), atol=atol)
    np.testing.assert_allclose(np.stack(left["embedding"]), np.stack(right["embedding"]), atol=atol)


def test_parquet_schema_from_bundle(audio_folder, bundle_path, tmp_path, test_config):
    output = tmp_path / "tags.parquet"
    run_tagging(str(audio_folder), str(bundle_path), str(output), test_config, use_progress_bar=False)
    bundle = load_bundle(bundle_path)

    schema = pq.read_schema(output / "part-000000.parquet")
    expected_names = ["track_id", "path", "duration_s", "model_id", *FLOAT_COLUMNS, "embedding"]
    assert schema.names == expected_names
    assert schema.field("embedding").type == pa.list_(pa.float32(), bundle.embedding_dim)
    assert schema.field("mood_calm").type == pa.float32()
    # pandas reads the folder as the tags table alone: the errors folder starts with "_".
    assert len(pd.read_parquet(output)) == 6


def test_rows_match_predict_track(audio_folder, bundle_path, tmp_path, test_config):
    output = tmp_path / "tags.parquet"
    summary = run_tagging(str(audio_folder), str(bundle_path), str(output), test_config, use_progress_bar=False)
    bundle = load_bundle(bundle_path)
    tags = _sorted_tags(output)

    assert summary.tagged == 6
    assert summary.failed == 0
    assert tags["track_id"].tolist() == sorted(write_valid_folder(tmp_path / "ids-only"))
    for row in tags.itertuples():
        waveform = load_audio(row.path, bundle.sample_rate)
        expected = bundle.predict_track(waveform)
        assert row.duration_s == pytest.approx(waveform.size / bundle.sample_rate, abs=1e-3)
        moods = np.array([getattr(row, column) for column in FLOAT_COLUMNS[: len(MOODS)]])
        np.testing.assert_allclose(moods, expected["mood_probs"], atol=1e-4)
        np.testing.assert_allclose(row.embedding, expected["embedding"], atol=1e-4)
    assert summary.audio_s == pytest.approx(tags["duration_s"].sum())


def test_rerun_skips_and_force_retags(audio_folder, bundle_path, tmp_path, test_config):
    output = tmp_path / "tags.parquet"
    run_tagging(str(audio_folder), str(bundle_path), str(output), test_config, use_progress_bar=False)
    first = _sorted_tags(output)

    rerun = run_tagging(str(audio_folder), str(bundle_path), str(output), test_config, use_progress_bar=False)
    assert rerun.tagged == 0
    assert rerun.skipped == 6
    assert_same_rows(_sorted_tags(output), first, atol=0)

    forced = run_tagging(str(audio_folder), str(bundle_path), str(output), test_config, force=True, use_progress_bar=False)
    assert forced.tagged == 6
    assert forced.skipped == 0
    assert_same_rows(_sorted_tags(output), first)


def test_other_model_id_retags(audio_folder, bundle_path, other_bundle_path, tmp_path, test_config):
    output = tmp_path / "tags.parquet"
    first = run_tagging(str(audio_folder), str(bundle_path), str(output), test_config, use_progress_bar=False)
    second = run_tagging(str(audio_folder), str(other_bundle_path), str(output), test_config, use_progress_bar=False)

    assert first.model_id != second.model_id
    assert second.tagged == 6
    assert second.skipped == 0
    tags = read_tags(output)
    assert tags.groupby("model_id").size().to_dict() == {first.model_id: 6, second.model_id: 6}
    assert not tags.duplicated(["track_id", "model_id"]).any()


def test_resume_after_injected_failure(audio_folder, bundle_path, tmp_path, test_config, monkeypatch):
    reference = tmp_path / "reference.parquet"
    run_tagging(str(audio_folder), str(bundle_path), str(reference), test_config, use_progress_bar=False)

    output = tmp_path / "interrupted.parquet"
    original_commit = TagStore.commit
    commits = []

    def commit_then_fail(self, tags, errors):
        if len(commits) == 2:
            raise KeyboardInterrupt("injected interruption after two parts")
        commits.append(original_commit(self, tags, errors))
        return commits[-1]

    monkeypatch.setattr(TagStore, "commit", commit_then_fail)
    with pytest.raises(KeyboardInterrupt):
        run_tagging(str(audio_folder), str(bundle_path), str(output), test_config, use_progress_bar=False)
    monkeypatch.setattr(TagStore, "commit", original_commit)
    assert len(read_tags(output)) == 4

    resumed = run_tagging(str(audio_folder), str(bundle_path), str(output), test_config, use_progress_bar=False)
    assert resumed.skipped == 4
    assert resumed.tagged == 2
    assert_same_rows(_sorted_tags(output), _sorted_tags(reference))


def test_recover_removes_half_written_files(tmp_path):
    output = tmp_path / "tags.parquet"
    (output / ERRORS_FOLDER).mkdir(parents=True)
    temporary = output / ".part-000000.abcd.tmp"
    temporary.write_bytes(b"half a parquet file")
    orphan = output / ERRORS_FOLDER / "part-000000.parquet"
    orphan.write_bytes(b"errors part without its tags part")

    with TagStore(output):
        pass

    assert not temporary.exists()
    assert not orphan.exists()


def test_second_job_on_same_output_rejected(tmp_path):
    output = tmp_path / "tags.parquet"
    with TagStore(output):
        with pytest.raises(TaggingOutputError, match="locked"):
            TagStore(output).open()


def write_bad_folder(folder: Path) -> None:
    """Two valid files and one of each kind of bad input, plus a 6-channel WAV that is valid."""
    write_valid_folder(folder / "good", n_tracks=2)
    (folder / "zero_bytes.wav").write_bytes(b"")
    (folder / "not_audio.mp3").write_text("this is a text file, not an MP3\n" * 20)
    complete = folder / "complete.ogg"
    sf.write(complete, tone(6.0, 330.0), SAMPLE_RATE, subtype="VORBIS")
    data = complete.read_bytes()
    (folder / "truncated.ogg").write_bytes(data[: len(data) // 2])
    complete.unlink()
    sf.write(folder / "clip_50ms.wav", tone(0.05, 440.0), SAMPLE_RATE)
    sf.write(folder / "silence.wav", np.zeros((SAMPLE_RATE * 3, 2), dtype=np.float32), SAMPLE_RATE)
    sf.write(folder / "surround.wav", tone(3.0, 300.0, channels=6), SAMPLE_RATE)


EXPECTED_ERRORS = {
    "zero_bytes": ("AudioDecodeError", "empty"),
    "not_audio": ("AudioDecodeError", "not_audio.mp3"),
    "truncated": ("TruncatedAudioError", "truncated"),
    "clip_50ms": ("AudioTooShortError", "shorter than the minimum"),
    "silence": ("SilentTrackError", "silent"),
}


def test_bad_input_folder_errors_table(tmp_path, bundle_path, capsys):
    folder = tmp_path / "bad"
    write_bad_folder(folder)
    output = tmp_path / "tags.parquet"

    status = tag_cli.main([str(folder), "--bundle", str(bundle_path), "--output", str(output), "--no-progress",
                           "--device", "cpu", "min_duration_s=0.5"])

    assert status == 0
    assert "tagged 3 tracks, failed 5" in capsys.readouterr().err
    tags = read_tags(output)
    assert sorted(tags["track_id"]) == ["good/album0/track0", "good/album1/track1", "surround"]
    errors = read_errors(output).set_index("track_id")
    assert sorted(errors.index) == sorted(EXPECTED_ERRORS)
    for track_id, (error_class, fragment) in EXPECTED_ERRORS.items():
        assert errors.loc[track_id, "error_class"] == error_class, track_id
        assert fragment in errors.loc[track_id, "message"], track_id
        assert errors.loc[track_id, "path"].endswith(Path(errors.loc[track_id, "path"]).name)


def test_fail_on_error_exit_status(tmp_path, bundle_path):
    folder = tmp_path / "bad"
    write_bad_folder(folder)
    arguments = [str(folder), "--bundle", str(bundle_path), "--output", str(tmp_path / "out"), "--no-progress",
                 "--fail-on-error", "min_duration_s=0.5"]

    assert tag_cli.main(arguments) == tag_cli.EXIT_TRACKS_FAILED


def test_missing_bundle_stops_before_work(audio_folder, tmp_path, test_config):
    output = tmp_path / "tags.parquet"
    with pytest.raises(MoodflowError, match="no-such-bundle"):
        run_tagging(str(audio_folder), str(tmp_path / "no-such-bundle"), str(output), test_config)
    assert not output.exists()


def test_unreadable_manifest_stops_before_work(bundle_path, tmp_path, test_config):
    manifest = tmp_path / "week.parquet"
    manifest.write_bytes(b"not parquet at all")
    output = tmp_path / "tags.parquet"
    with pytest.raises(MoodflowError, match="week.parquet"):
        run_tagging(str(manifest), str(bundle_path), str(output), test_config)
    assert not output.exists()


def test_manifest_without_path_column_rejected(bundle_path, tmp_path, test_config):
    manifest = tmp_path / "week.csv"
    manifest.write_text("track_id,album_id\na,1\n")
    with pytest.raises(MoodflowError, match="path"):
        run_tagging(str(manifest), str(bundle_path), str(tmp_path / "out"), test_config)


def test_unwritable_output_stops_before_work(audio_folder, bundle_path, tmp_path, test_config):
    blocker = tmp_path / "a_file"
    blocker.write_text("a regular file where a folder is needed")
    output = blocker / "tags.parquet"
    with pytest.raises(TaggingOutputError, match="a_file"):
        run_tagging(str(audio_folder), str(bundle_path), str(output), test_config)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_output_rejected(audio_folder, bundle_path, tmp_path, test_config):
    parent = tmp_path / "read_only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        with pytest.raises(TaggingOutputError, match="read_only"):
            run_tagging(str(audio_folder), str(bundle_path), str(parent / "tags.parquet"), test_config)
    finally:
        parent.chmod(0o755)


def test_manifest_relative_paths_and_extra_columns(audio_folder, bundle_path, tmp_path, test_config):
    files = sorted(path for path in audio_folder.rglob("*") if path.is_file())
    manifest = audio_folder / "week.csv"
    pd.DataFrame(
        {
            "track_id": [f"T{index}" for index in range(len(files))],
            "path": [path.relative_to(audio_folder).as_posix() for path in files],
            "album_id": ["A1"] * len(files),
            "artist": ["someone"] * len(files),
            "release_date": ["2026-12-04"] * len(files),
        }
    ).to_csv(manifest, index=False)

    summary = run_tagging(str(manifest), str(bundle_path), str(tmp_path / "out"), test_config, use_progress_bar=False)

    assert summary.tagged == len(files)
    tags = _sorted_tags(tmp_path / "out")
    assert tags["track_id"].tolist() == sorted(f"T{index}" for index in range(len(files)))
    assert all(Path(path).is_file() for path in tags["path"])


def test_duplicate_manifest_ids_rejected(bundle_path, tmp_path, test_config):
    manifest = tmp_path / "week.csv"
    manifest.write_text("track_id,path\nx,a.wav\nx,b.wav\n")
    with pytest.raises(MoodflowError, match="more than once"):
        run_tagging(str(manifest), str(bundle_path), str(tmp_path / "out"), test_config)
