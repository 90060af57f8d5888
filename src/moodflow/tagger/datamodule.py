"""Training data for the tagger: a validated track table, artist-grouped folds, chunk datasets.

Batches from the training loader are dicts with
`waveform [batch, chunk_samples]` float32 audio at `sample_rate` Hz (a random
crop of one track, with a random gain), `mood [batch, n_moods]` float32 soft
targets in [0, 1], and `genre [batch]` int64 indices into `genre_labels`.
Validation batches carry every chunk of each held-out track (the bundle's
chunking rule) plus `track [batch]`, the row of the track, so that the module
can average chunk predictions per track.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from moodflow.audio.errors import AudioDecodeError
from moodflow.audio.loading import load_audio
from moodflow.data.adapters import LabelledManifest
from moodflow.data.cache import AudioCache
from moodflow.data.manifest import validate_manifest
from moodflow.errors import MoodflowError
from moodflow.tables import read_table
from moodflow.tagger.bundle import split_waveform
from moodflow.tagger.folds import assign_group_folds
from moodflow.tagger.metrics import median_thresholds

logger = logging.getLogger(__name__)


class TrainingDataError(MoodflowError):
    """The training data cannot be used: invalid fold settings or tracks that fail to decode."""


@dataclass
class TrackTable:
    """Validated training tracks. Row `i` of each array belongs to track `i`."""

    track_ids: list[str]
    paths: list[Path]
    groups: list[str]
    mood_targets: np.ndarray
    genre_index: np.ndarray

    def __len__(self) -> int:
        return len(self.track_ids)


def read_track_table(
    manifest: str | Path | pd.DataFrame | LabelledManifest,
    mood_labels: list[str],
    genre_labels: list[str],
    *,
    path_root: str | Path | None = None,
    group_column: str = "group",
    genre_column: str = "genre",
) -> TrackTable:
    """Read and validate a manifest with `moodflow.data.manifest` before any training starts.

    `manifest` is a CSV/TSV/Parquet path, a DataFrame, or a `LabelledManifest`
    from `moodflow.data.adapters`. `group_column` and `genre_column` name the
    columns that play the manifest's `group` and `genre` roles (Emotify's
    `tracks.csv` uses `artist` as the group). Relative paths resolve against
    `path_root`, by default the manifest's folder. Raises `ManifestError`
    listing every bad row with its row number, column and value.
    """
    source = "(in memory)"
    if isinstance(manifest, LabelledManifest):
        frame = manifest.table
    elif isinstance(manifest, pd.DataFrame):
        frame = manifest
    else:
        source = str(manifest)
        frame = read_table(manifest)
        if path_root is None:
            path_root = Path(manifest).parent
    renames = {column: role for column, role in ((group_column, "group"), (genre_column, "genre")) if column != role}
    if renames:
        frame = frame.drop(columns=[role for role in renames.values() if role in frame.columns]).rename(columns=renames)
    frame = validate_manifest(frame, mood_labels, genre_labels, root=path_root, source=source)

    genre_to_index = {genre: index for index, genre in enumerate(genre_labels)}
    return TrackTable(
        track_ids=frame["track_id"].tolist(),
        paths=[Path(path) for path in frame["path"]],
        groups=frame["group"].tolist(),
        mood_targets=frame[list(mood_labels)].to_numpy(dtype=np.float32).reshape(len(frame), len(mood_labels)),
        genre_index=frame["genre"].map(genre_to_index).to_numpy(dtype=np.int64),
    )


class RandomCropDataset(Dataset):
    """`crops_per_track` random chunks of each training track per epoch, with a random gain."""

    def __init__(
        self,
        waveforms: list[np.ndarray],
        mood_targets: np.ndarray,
        genre_index: np.ndarray,
        chunk_samples: int,
        crops_per_track: int = 1,
        gain_db: float = 0.0,
    ) -> None:
        self.waveforms = waveforms
        self.mood_targets = torch.from_numpy(np.ascontiguousarray(mood_targets))
        self.genre_index = torch.from_numpy(np.ascontiguousarray(genre_index))
        self.chunk_samples = chunk_samples
        self.crops_per_track = crops_per_track
        self.gain_db = gain_db

    def __len__(self) -> int:
        return len(self.waveforms) * self.crops_per_track

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        row = item % len(self.waveforms)
        waveform = self.waveforms[row]
        # torch's global generator is seeded by seed_everything and per
        # worker by Lightning, so crops are reproducible.
        if waveform.shape[0] <= self.chunk_samples:
            chunk = split_waveform(waveform, self.chunk_samples)[0]
        else:
            offset = int(torch.randint(0, waveform.shape[0] - self.chunk_samples + 1, ()).item())
            chunk = waveform[offset : offset + self.chunk_samples]
        chunk = torch.from_numpy(np.array(chunk, dtype=np.float32))
        if self.gain_db > 0:
            gain_db = (torch.rand(()) * 2 - 1) * self.gain_db
            chunk = chunk * 10 ** (gain_db / 20)
        return {"waveform": chunk, "mood": self.mood_targets[row], "genre": self.genre_index[row]}


class TrackChunkDataset(Dataset):
    """Every chunk of every track (the bundle's chunking rule), tagged with its track row."""

    def __init__(self, waveforms: list[np.ndarray], mood_targets: np.ndarray, genre_index: np.ndarray, chunk_samples: int) -> None:
        self.items: list[tuple[int, np.ndarray]] = []
        for row, waveform in enumerate(waveforms):
            for chunk in split_waveform(waveform, chunk_samples):
                self.items.append((row, chunk))
        self.mood_targets = torch.from_numpy(np.ascontiguousarray(mood_targets))
        self.genre_index = torch.from_numpy(np.ascontiguousarray(genre_index))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        row, chunk = self.items[item]
        return {
            "waveform": torch.from_numpy(chunk),
            "mood": self.mood_targets[row],
            "genre": self.genre_index[row],
            "track": torch.tensor(row),
        }


class TaggerDataModule(L.LightningDataModule):
    """Manifest -> validated tracks -> decoded audio in memory -> artist-grouped train/validation sets.

    With `cache_dir`, decoded audio is stored there (`moodflow.data.cache`,
    float16), so later runs and folds skip MP3 decoding.

    With `fold` set, the tracks of the groups (artists) in fold `fold` of
    `n_folds` are the validation set and the rest the training set. With
    `fold=None` every track trains and there is no validation set.
    """

    def __init__(
        self,
        manifest: str | Path | pd.DataFrame,
        mood_labels: list[str],
        genre_labels: list[str],
        *,
        name: str = "tagger",
        root: str | Path | None = None,
        path_root: str | Path | None = None,
        group_column: str = "group",
        genre_column: str = "genre",
        sample_rate: int = 16000,
        chunk_seconds: float = 3.0,
        min_duration_s: float = 0.5,
        n_folds: int = 5,
        fold: int | None = 0,
        fold_seed: int = 0,
        batch_size: int = 32,
        crops_per_track: int = 2,
        gain_db: float = 0.0,
        num_workers: int = 0,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        if fold is not None and not 0 <= fold < n_folds:
            raise TrainingDataError(f"data.fold must be in [0, {n_folds - 1}] or null, got {fold}")
        if n_folds < 2:
            raise TrainingDataError(f"data.n_folds must be at least 2, got {n_folds}")
        self.manifest = manifest
        self.mood_labels = list(mood_labels)
        self.genre_labels = list(genre_labels)
        self.name = name
        self.path_root = path_root if path_root is not None else root
        self.group_column = group_column
        self.genre_column = genre_column
        self.sample_rate = sample_rate
        self.chunk_samples = int(round(chunk_seconds * sample_rate))
        self.min_duration_s = min_duration_s
        self.n_folds = n_folds
        self.fold = fold
        self.fold_seed = fold_seed
        self.batch_size = batch_size
        self.crops_per_track = crops_per_track
        self.gain_db = gain_db
        self.num_workers = num_workers
        self.cache = AudioCache(cache_dir, sample_rate) if cache_dir else None
        self.tracks: TrackTable | None = None
        self.waveforms: list[np.ndarray] | None = None

    def prepare_tracks(self) -> TrackTable:
        """Validate the manifest (once) and return the track table."""
        if self.tracks is None:
            self.tracks = read_track_table(
                self.manifest,
                self.mood_labels,
                self.genre_labels,
                path_root=self.path_root,
                group_column=self.group_column,
                genre_column=self.genre_column,
            )
            logger.info("manifest: %d tracks, %d groups", len(self.tracks), len(set(self.tracks.groups)))
        return self.tracks

    def split_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the training and validation row indices of the configured fold."""
        tracks = self.prepare_tracks()
        if self.fold is None:
            return np.arange(len(tracks)), np.array([], dtype=np.int64)
        folds = assign_group_folds(tracks.groups, self.n_folds, seed=self.fold_seed)
        return np.flatnonzero(folds != self.fold), np.flatnonzero(folds == self.fold)

    def mood_thresholds(self) -> np.ndarray:
        """Return each mood's median soft target over the training rows (for binarised metrics)."""
        train_rows, _ = self.split_rows()
        return median_thresholds(self.prepare_tracks().mood_targets[train_rows])

    def setup(self, stage: str | None = None) -> None:
        if self.waveforms is not None:
            return
        tracks = self.prepare_tracks()
        started = time.perf_counter()
        waveforms, failures = [], []
        for row, path in enumerate(tracks.paths):
            try:
                if self.cache is not None:
                    waveforms.append(self.cache.load(path, min_duration_s=self.min_duration_s))
                else:
                    waveforms.append(load_audio(path, self.sample_rate, min_duration_s=self.min_duration_s))
            except AudioDecodeError as error:
                failures.append(f"row {row + 1}: {error}")
        if failures:
            raise TrainingDataError(f"{len(failures)} track(s) could not be decoded:\n  " + "\n  ".join(failures))
        self.waveforms = waveforms
        seconds = sum(len(waveform) for waveform in waveforms) / self.sample_rate
        hits = self.cache.hits if self.cache is not None else 0
        logger.info(
            "loaded %d tracks (%.0f s of audio, %d from the audio cache) in %.1f s",
            len(waveforms), seconds, hits, time.perf_counter() - started,
        )

    def _subset(self, rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        tracks = self.prepare_tracks()
        return [self.waveforms[row] for row in rows], tracks.mood_targets[rows], tracks.genre_index[rows]

    def train_dataloader(self) -> DataLoader:
        train_rows, _ = self.split_rows()
        dataset = RandomCropDataset(*self._subset(train_rows), self.chunk_samples, self.crops_per_track, self.gain_db)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers, drop_last=len(dataset) > self.batch_size)

    def val_dataloader(self) -> DataLoader | list:
        _, validation_rows = self.split_rows()
        if validation_rows.size == 0:
            return []
        dataset = TrackChunkDataset(*self._subset(validation_rows), self.chunk_samples)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers)
