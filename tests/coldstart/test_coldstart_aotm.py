"""The AotM cold-start evaluation on a slice of the real playlists."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, shared_data_path


@pytest.mark.data
@pytest.mark.slow
def test_mlp_beats_baselines_on_aotm_slice(tmp_path):
    aotm = shared_data_path("aotm2011") / "playlists.csv.gz"
    deezer = shared_data_path("deezer-mood")
    output = tmp_path / "figures.json"
    subprocess.run(
        [
            sys.executable, str(REPO_ROOT / "scripts" / "bench_coldstart_aotm.py"),
            "--aotm", str(aotm), "--deezer", str(deezer), "--max-playlists", "40000",
            "--space", "dim=32", "--set", "training.epochs=8", "--out-json", str(output),
        ],
        check=True,
        cwd=REPO_ROOT,
    )
    results = json.loads(output.read_text())["results"]

    for feature_set, predictors in results.items():
        mlp = predictors["mlp"]["cosine"]
        for baseline in ("random unit vector", "popularity centroid", "artist mean"):
            if baseline in predictors:
                assert mlp > predictors[baseline]["cosine"], (feature_set, baseline)
    usage = [results[f"usage, {n} playlist{'s' if n > 1 else ''}"]["mlp"]["cosine"] for n in (1, 2, 3)]
    assert usage[0] < usage[1] < usage[2]
