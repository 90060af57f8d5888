"""Tests of the training configs, the data module and `run_training` on generated clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from moodflow.data.manifest import ManifestError
from moodflow.tagger.bundle import load_bundle
from moodflow.tagger.curves import plot_training_curves
from moodflow.tagger.datamodule import TaggerDataModule, TrainingDataError, read_track_table
from moodflow.tagger.folds import assign_group_folds
from moodflow.tagger.training import run_training

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
MOODS = ["calm", "happy"]
GENRES = ["low", "high"]
SAMPLE_RATE = 16000


def write_clips(folder: Path, n_tracks: int = 16) -> Path:
    """Write sine-plus-noise WAV clips (genre = pitch, calm = quiet) and an Emotify-layout tracks.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for index in range(n_tracks):
        genre = GENRES[index % 2]
        frequency = 220.0 if genre == "low" else 1760.0
        seconds = 1.5 + (index % 3)
        times = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        amplitude = 0.1 if index % 4 < 2 else 0.6
        waveform = amplitude * np.sin(2 * np.pi * frequency * times) + 0.01 * rng.normal(size=times.size)
        sf.write(folder / f"clip {index:02d}.wav", waveform.astype(np.float32), SAMPLE_RATE)
        rows.append(
            {
                "track_id": f"t{index:02d}",
                "path": f"clip {index:02d}.wav",
                "genre": genre,
                "artist": f"artist {index % 8}",
                "calm": 0.9 if amplitude < 0.5 else 0.1,
                "happy": float(rng.uniform()),
            }
        )
    pd.DataFrame(rows).to_csv(folder / "tracks.csv", index=False)
    return folder


def clip_data_overrides(tmp_path: Path) -> list[str]:
    data_root = write_clips(tmp_path / "clips")
    return [
        "data=emotify",
        f"data.root={data_root}",
        f"data.mood_labels={MOODS}",
        f"data.genre_labels={GENRES}",
        f"data.cache_dir={tmp_path / 'audio_cache'}",
    ]


def compose_config(tmp_path: Path, overrides: list[str] = (), data_overrides: list[str] | None = None) -> DictConfig:
    if data_overrides is None:
        data_overrides = clip_data_overrides(tmp_path)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                *data_overrides,
                "data.n_folds=4",
                "data.batch_size=4",
                "data.chunk_seconds=1.0",
                "model.net.backbone.channels=[4,8]",
                "model.net.backbone.embedding_dim=8",
                f"paths.output_dir={tmp_path / 'run'}",
                f"paths.models_dir={tmp_path / 'models'}",
                "trainer.enable_progress_bar=false",
                *overrides,
            ],
        )
    return cfg


@pytest.mark.parametrize(
    "override",
    [
        "data=emotify",
        "data=synthetic",
        "model=short_chunk_cnn",
        "callbacks=default",
        "callbacks=no_validation",
        "callbacks=none",
        "callbacks=last_only",
        "logger=default",
        "logger=csv",
        "logger=tensorboard",
        "logger=none",
        "trainer=default",
        "trainer=cpu",
        "paths=default",
        "experiment=emotify_cnn",
        "experiment=emotify_full",
        "debug=default",
        "debug=limit",
    ],
)
def test_config_group_composes(tmp_path: Path, override: str) -> None:
    cfg = compose_config(tmp_path, [override, f"data.root={tmp_path / 'clips'}"])
    datamodule = instantiate(cfg.data)
    assert isinstance(datamodule, TaggerDataModule)
    net = instantiate(cfg.model.net, n_moods=len(cfg.data.mood_labels), n_genres=len(cfg.data.genre_labels))
    module = instantiate(cfg.model, net=net, mood_labels=list(cfg.data.mood_labels))
    assert module.net is net
    for group in ("callbacks", "logger"):
        for entry in (cfg.get(group) or {}).values():
            assert instantiate(entry) is not None
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[])
    assert trainer.max_epochs >= 1


def write_genre_folders(folder: Path) -> Path:
    """Write `<genre>/<artist>/<clip>.wav` files: two genres, four artists each."""
    for index in range(16):
        genre = GENRES[index % 2]
        clip = folder / genre / f"artist {index % 8}" / f"clip {index:02d}.wav"
        clip.parent.mkdir(parents=True, exist_ok=True)
        frequency = 220.0 if genre == "low" else 1760.0
        times = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
        sf.write(clip, (0.3 * np.sin(2 * np.pi * frequency * times)).astype(np.float32), SAMPLE_RATE)
    return folder


def test_folder_genre_trains_without_moods(tmp_path: Path) -> None:
    root = write_genre_folders(tmp_path / "genres")
    cfg = compose_config(
        tmp_path, ["debug=default"], data_overrides=["data=folder_genre", f"data.root={root}", f"data.genre_labels={GENRES}"]
    )
    datamodule = instantiate(cfg.data)
    tracks = datamodule.prepare_tracks()
    assert len(tracks) == 16
    assert tracks.mood_targets.shape == (16, 0)
    assert sorted(set(tracks.groups)) == [f"artist {index}" for index in range(8)]

    result = run_training(cfg)
    bundle = load_bundle(result.bundle_dir)
    assert bundle.mood_labels == []
    prediction = bundle.predict_track(np.zeros(SAMPLE_RATE, np.float32))
    assert prediction["mood_probs"].shape == (0,)
    assert prediction["genre_probs"].shape == (2,)


def test_jamendo_config_reads_tsv(tmp_path: Path) -> None:
    audio_root = write_genre_folders(tmp_path / "audio")
    lines = ["TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"]
    for index in range(16):
        genre = GENRES[index % 2]
        path = f"{genre}/artist {index % 8}/clip {index:02d}.wav"
        tags = [f"genre---{genre}", "mood/theme---calm" if index % 3 == 0 else "mood/theme---happy"]
        lines.append("\t".join([f"track_{index}", f"artist_{index % 8}", f"album_{index}", path, "1.5", *tags]))
    tsv = tmp_path / "autotagging_moodtheme.tsv"
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = compose_config(
        tmp_path,
        [],
        data_overrides=[
            "data=jamendo",
            f"data.root={audio_root}",
            f"data.manifest.tsv_path={tsv}",
            f"data.mood_labels={MOODS}",
            f"data.genre_labels={GENRES}",
        ],
    )
    tracks = instantiate(cfg.data).prepare_tracks()
    assert len(tracks) == 16
    assert tracks.mood_targets[0].tolist() == [1.0, 0.0]
    assert tracks.mood_targets[1].tolist() == [0.0, 1.0]
    assert tracks.genre_index[:4].tolist() == [0, 1, 0, 1]


def test_jamendo_vocabulary_from_config(tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["data=jamendo"])
    assert len(cfg.data.mood_labels) == 59
    assert len(cfg.data.genre_labels) == 87
    assert "happy" in cfg.data.mood_labels
    assert "rock" in cfg.data.genre_labels


def test_gpu_trainer_config_composes(tmp_path: Path) -> None:
    cfg = compose_config(tmp_path, ["trainer=gpu"])
    assert cfg.trainer.accelerator == "gpu"
    assert cfg.trainer.precision == "16-mixed"


def test_fast_dev_run_exports_bundle(tmp_path: Path) -> None:
    cfg = compose_config(tmp_path, ["debug=default"])
    result = run_training(cfg)
    assert result.bundle_dir == tmp_path / "models" / "emotify"
    bundle = load_bundle(result.bundle_dir)
    assert bundle.model_id == result.model_id
    assert bundle.mood_labels == MOODS
    assert bundle.genre_labels == GENRES
    assert bundle.chunk_samples == SAMPLE_RATE
    prediction = bundle.predict_track(np.zeros(SAMPLE_RATE * 2, np.float32))
    assert prediction["mood_probs"].shape == (2,)
    assert np.all(np.isfinite(prediction["embedding"]))


def test_fast_dev_run_on_synthetic_clips(tmp_path: Path) -> None:
    from moodflow.synth.clips import generate_clips

    clips = generate_clips(tmp_path / "synthetic", n_clips=16, clip_seconds=2.0)
    cfg = compose_config(tmp_path, ["debug=default"], data_overrides=["data=synthetic", f"data.root={clips.root}"])
    result = run_training(cfg)
    bundle = load_bundle(result.bundle_dir)
    assert bundle.mood_labels == list(cfg.data.mood_labels)
    assert len(bundle.mood_labels) == 9
    assert bundle.genre_labels == ["classical", "rock", "electronic", "pop"]
    assert bundle.chunk_samples == SAMPLE_RATE


def test_short_training_learns_and_plots(tmp_path: Path) -> None:
    cfg = compose_config(tmp_path, ["trainer.max_epochs=2", "data.crops_per_track=1"])
    result = run_training(cfg)
    assert result.metric is not None
    assert 0.0 <= result.metric <= 1.0
    assert result.best_checkpoint is not None and result.best_checkpoint.is_file()
    assert result.curves_png is not None and result.curves_png.stat().st_size > 1000
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file()
    assert any((tmp_path / "run" / "tensorboard").iterdir())
    assert "val/genre_accuracy" in result.metrics


def test_bad_manifest_rows_reported_first(tmp_path: Path) -> None:
    cfg = compose_config(tmp_path, ["debug=default"])
    manifest = Path(cfg.data.root) / "tracks.csv"
    frame = pd.read_csv(manifest)
    frame.loc[2, "path"] = "missing.wav"
    frame.loc[5, "genre"] = "jazz"
    frame.loc[7, "calm"] = 1.5
    frame.to_csv(manifest, index=False)
    with pytest.raises(ManifestError) as caught:
        run_training(cfg)
    message = str(caught.value)
    assert "row 3, column 'path'" in message
    assert "missing.wav': audio file not found" in message
    assert "row 6, column 'genre', value 'jazz': unknown genre" in message
    assert "row 8, column 'calm', value 1.5: mood value must be a number in [0, 1]" in message
    assert str(manifest) in message
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_manifest_missing_column(tmp_path: Path) -> None:
    folder = write_clips(tmp_path / "clips")
    frame = pd.read_csv(folder / "tracks.csv").drop(columns=["happy"])
    frame.to_csv(folder / "tracks.csv", index=False)
    with pytest.raises(ManifestError, match="happy"):
        read_track_table(folder / "tracks.csv", MOODS, GENRES, group_column="artist")


def test_folds_keep_artists_together() -> None:
    groups = [f"artist {index % 7}" for index in range(40)]
    folds = assign_group_folds(groups, 5)
    assert set(folds.tolist()) == {0, 1, 2, 3, 4}
    for artist in set(groups):
        assert len({fold for group, fold in zip(groups, folds) if group == artist}) == 1


def test_datamodule_fold_split(tmp_path: Path) -> None:
    folder = write_clips(tmp_path / "clips")
    datamodule = TaggerDataModule(
        folder / "tracks.csv",
        MOODS,
        GENRES,
        group_column="artist",
        n_folds=4,
        fold=1,
        chunk_seconds=1.0,
        batch_size=4,
        cache_dir=tmp_path / "cache",
    )
    train_rows, validation_rows = datamodule.split_rows()
    assert len(train_rows) + len(validation_rows) == 16
    groups = np.array(datamodule.prepare_tracks().groups)
    assert not set(groups[train_rows]) & set(groups[validation_rows])

    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["waveform"].shape == (4, SAMPLE_RATE)
    assert batch["mood"].shape == (4, 2)
    validation = next(iter(datamodule.val_dataloader()))
    assert set(validation) == {"waveform", "mood", "genre", "track"}
    assert datamodule.cache.misses == 16
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 16


def test_no_fold_trains_on_all(tmp_path: Path) -> None:
    folder = write_clips(tmp_path / "clips")
    datamodule = TaggerDataModule(folder / "tracks.csv", MOODS, GENRES, group_column="artist", fold=None)
    train_rows, validation_rows = datamodule.split_rows()
    assert len(train_rows) == 16
    assert len(validation_rows) == 0


def test_invalid_fold_rejected(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="data.fold"):
        TaggerDataModule(tmp_path / "tracks.csv", MOODS, GENRES, n_folds=5, fold=5)


def test_curves_from_metrics_csv(tmp_path: Path) -> None:
    rows = []
    for epoch in range(3):
        rows.append({"epoch": epoch, "step": epoch * 2, "train/loss": 1.0 / (epoch + 1)})
        rows.append({"epoch": epoch, "step": epoch * 2 + 1, "val/loss": 1.2 / (epoch + 1), "val/score": 0.5 + 0.1 * epoch})
    pd.DataFrame(rows).to_csv(tmp_path / "metrics.csv", index=False)
    png = plot_training_curves(tmp_path / "metrics.csv", tmp_path / "curves.png")
    assert png == tmp_path / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_training_curves(tmp_path / "absent.csv", tmp_path / "other.png") is None


def test_evaluation_reads_adapter_manifest(tmp_path: Path) -> None:
    from moodflow.tagger.evaluate import read_tracks

    root = write_genre_folders(tmp_path / "genres")
    cfg = compose_config(
        tmp_path, data_overrides=["data=folder_genre", f"data.root={root}", f"data.genre_labels={GENRES}"]
    )
    tracks = read_tracks(cfg.data, [], GENRES)
    assert len(tracks) == 16
    assert sorted(set(tracks.groups)) == [f"artist {index}" for index in range(8)]
