"""Fixtures of the batch-tagging tests: a small random bundle and generated audio folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from tagging_audio import GENRES, MOODS, write_valid_folder

from moodflow.tagger.bundle import write_random_bundle
from moodflow.tagging.config import TagConfig


@pytest.fixture(scope="session")
def bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded random bundle with 1-second chunks at 16 kHz."""
    path = tmp_path_factory.mktemp("bundle") / "random"
    write_random_bundle(path, MOODS, GENRES, seed=3, chunk_seconds=1.0)
    return path


@pytest.fixture(scope="session")
def other_bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second random bundle, so a second model id, with the same vocabularies."""
    path = tmp_path_factory.mktemp("bundle") / "other"
    write_random_bundle(path, MOODS, GENRES, seed=4, chunk_seconds=1.0)
    return path


@pytest.fixture
def audio_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "releases"
    write_valid_folder(folder)
    return folder


@pytest.fixture
def test_config() -> TagConfig:
    """Small parts and blocks so that a few short tracks exercise every code path."""
    config = TagConfig(workers=2, batch_size=4, device="cpu", torch_threads=1, part_size=2, block_seconds=1.5)
    config.min_duration_s = 0.5
    return config
