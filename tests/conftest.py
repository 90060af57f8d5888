"""Fixtures shared by every test module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Real third-party data lives outside the repository. MOODFLOW_SHARED_DATA
# points elsewhere; the default is the `shared/data` folder beside the clone.
SHARED_DATA = Path(os.environ.get("MOODFLOW_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_data_path(subfolder: str) -> Path:
    """Return `SHARED_DATA/subfolder`, skipping the calling test when it is absent."""
    path = SHARED_DATA / subfolder
    if not path.exists():
        pytest.skip(f"real data folder {path} is absent; set MOODFLOW_SHARED_DATA to its parent")
    return path


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep each test to two threads so the suite behaves the same on any core count."""
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)
