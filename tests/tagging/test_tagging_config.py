"""Configuration loading of `moodflow tag` and the local engine's handling of a crashed decoder."""

from __future__ import annotations

import numpy as np
import pytest

from moodflow.tagging.assembly import ChunkSums, TrackAssembler, TrackFailure
from moodflow.tagging.cli import build_parser
from moodflow.tagging.config import DEFAULT_CONFIG_PATH, TaggingConfigError, load_config
from moodflow.tagging.inputs import TrackInput
from moodflow.tagging.local import LocalEngine


def test_repository_config_loads():
    config = load_config(DEFAULT_CONFIG_PATH)
    assert config.engine == "local"
    assert config.workers >= 1
    assert config.ray.address is None


def test_options_override_file_and_dotlist_overrides_options():
    config = load_config(
        DEFAULT_CONFIG_PATH,
        overrides={"workers": 3, "batch_size": None, "ray.address": "auto"},
        dotlist=["ray.actors=4", "silence_threshold_dbfs=null"],
    )
    assert config.workers == 3
    assert config.batch_size == load_config(DEFAULT_CONFIG_PATH).batch_size
    assert config.ray.address == "auto"
    assert config.ray.actors == 4
    assert config.silence_threshold_dbfs is None


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("engine=spark", "invalid engine 'spark'"),
        ("workers=0", "invalid workers 0"),
        ("ray.gpus_per_actor=-1", "invalid ray.gpus_per_actor"),
        ("no_such_key=1", "no_such_key"),
        ("batch_size=many", "batch_size"),
    ],
)
def test_invalid_config_values_rejected(override, fragment):
    with pytest.raises(TaggingConfigError, match=fragment):
        load_config(DEFAULT_CONFIG_PATH, dotlist=[override])


def test_missing_config_file_named(tmp_path):
    with pytest.raises(TaggingConfigError, match="nowhere.yaml"):
        load_config(tmp_path / "nowhere.yaml")


def test_cli_accepts_overrides_after_options():
    args = build_parser().parse_intermixed_args(
        ["in", "--bundle", "b", "--output", "o", "ray.actors=2", "--workers", "1"]
    )
    assert args.overrides == ["ray.actors=2"]
    assert args.workers == 1


class _DeadProcess:
    exitcode = -9

    def is_alive(self) -> bool:
        return False


def test_crashed_decoder_fails_its_track_and_restarts():
    engine = LocalEngine.__new__(LocalEngine)
    restarted = []
    engine._start_worker = lambda context, index, tasks, results: restarted.append(index) or f"worker-{index}"
    tracks = [TrackInput("a", "/music/a.ogg"), TrackInput("b", "/music/b.ogg")]
    assembler = TrackAssembler(n_moods=2, n_genres=2, embedding_dim=3)
    workers = [_DeadProcess()]

    n_failed = engine._replace_dead_workers(workers, {0: 1}, tracks, assembler, None, None, None)

    assert n_failed == 1
    assert restarted == [0]
    assert workers == ["worker-0"]
    [failure] = assembler.take_finished()
    assert isinstance(failure, TrackFailure)
    assert failure.track.track_id == "b"
    assert failure.error_class == "DecoderCrashError"
    assert "-9" in failure.message


def test_assembler_ignores_sums_after_error():
    assembler = TrackAssembler(n_moods=1, n_genres=1, embedding_dim=1)
    track = TrackInput("a", "a.wav")
    assembler.add_error(track, "AudioDecodeError", "bad")
    assembler.add_sums(track, ChunkSums(np.ones(1), np.ones(1), np.ones(1), n_chunks=1))
    assembler.add_done(track, 1.0, 1)

    finished = assembler.take_finished()
    assert len(finished) == 1
    assert isinstance(finished[0], TrackFailure)
    assert assembler.n_open == 0


def test_progress_logs_lines_without_terminal(caplog):
    from moodflow.tagging.progress import Progress

    progress = Progress(total_tracks=2, log_every_s=0.0, use_bar=False)
    with caplog.at_level("INFO", logger="moodflow.tagging.progress"):
        progress.update(audio_s=3600.0)
        progress.update(failed=True)
    progress.close()

    assert progress.tracks == 2
    assert progress.failed == 1
    assert progress.audio_s == 3600.0
    assert "progress: 1/2 tracks (0 failed)" in caplog.text
    assert "progress: 2/2 tracks (1 failed)" in caplog.text
    assert "audio-hours/s" in caplog.text
