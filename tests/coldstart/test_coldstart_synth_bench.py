"""The cold-start benchmark on generated audio, run end to end on a tiny corpus."""

from __future__ import annotations

import importlib
import json

from conftest import REPO_ROOT


def test_synth_bench_writes_every_row(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT / "scripts"))
    bench = importlib.import_module("bench_coldstart_synth")
    out_json = tmp_path / "figures.json"
    status = bench.main([
        "--tracks", "80", "--artists", "16", "--playlists", "300", "--clip-seconds", "3", "--epochs", "1",
        "--dim", "8", "--work-dir", str(tmp_path / "work"), "--in-process", "--set", "training.epochs=5",
        "--out-json", str(out_json),
    ])
    figures = json.loads(out_json.read_text())
    summary, results = figures["summary"], figures["results"]

    assert status == 0
    assert summary["hidden_tracks"] == round(0.1 * summary["full_warm"])
    assert summary["tagger_epochs"] == 1
    expected_sets = [
        *bench.FEATURE_SETS,
        bench.UNTRAINED_SET,
        bench.AUDIBLE_SET,
        bench.FACTOR_SET,
    ]
    assert sorted(results) == sorted(expected_sets)
    for name, predictors in results.items():
        assert {"random unit vector", "popularity centroid", "mlp", "ridge"} <= set(predictors), name
        assert predictors["mlp"]["n"] == summary["hidden_tracks"], name
    assert "artist mean" in results["artist"]
    assert "fold-in" in results["usage, 1 playlist"]
    # Even one tagger epoch on 3-second clips places held-out tracks far better than chance.
    assert results["audio"]["mlp"]["cosine"] > results["audio"]["random unit vector"]["cosine"] + 0.3
