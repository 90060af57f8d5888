"""`moodflow evaluate` on a generated dataset with a random bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moodflow.errors import MoodflowError
from moodflow.tagger import crossval, evaluate
from moodflow.tagger.bundle import write_random_bundle
from moodflow.tagger.folds import assign_group_folds
from test_tagger_evaluate_data import GENRES, MOODS, data_overrides, write_tone_dataset

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tones")
    write_tone_dataset(root)
    return root


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "random"
    write_random_bundle(path, MOODS, GENRES, seed=3, chunk_seconds=0.5)
    return path


def test_evaluate_held_out_fold(dataset, bundle, tmp_path):
    out = tmp_path / "report"
    status = evaluate.main([str(bundle), "--out", str(out), *data_overrides(dataset), "data.fold=1"])
    assert status == 0
    report = json.loads((out / "report.json").read_text())

    tracks = pd.read_csv(dataset / "tracks.csv")
    folds = assign_group_folds(tracks["artist"].tolist(), 4, seed=0)
    assert report["n_tracks"] == int(np.sum(folds == 1))
    assert report["fold"] == 1
    expected_calm = float(np.median(tracks.loc[folds != 1, "calm"]))
    assert report["mood"]["thresholds"]["calm"] == pytest.approx(expected_calm)
    matrix = np.array(report["genre"]["confusion_matrix"])
    assert matrix.shape == (2, 2)
    assert matrix.sum() == report["n_tracks"]
    assert 0.0 <= report["mood"]["macro_roc_auc"] <= 1.0


def test_evaluate_writes_table_and_plots(dataset, bundle, tmp_path):
    out = tmp_path / "report"
    evaluate.main([str(bundle), "--out", str(out), *data_overrides(dataset), "data.fold=0"])
    table = (out / "report.md").read_text()
    assert "| genre accuracy |" in table
    assert "| calm |" in table
    for name in ("mood_roc_auc.png", "mood_pr_auc.png", "genre_confusion.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC


def test_evaluate_with_crossval_baseline(dataset, bundle, tmp_path):
    crossval.main(["--baseline-only", "--out", str(tmp_path / "cv"), "--feature-cache", str(tmp_path / "features"), *data_overrides(dataset)])
    out = tmp_path / "report"
    evaluate.main(
        [str(bundle), "--out", str(out), "--baseline-report", str(tmp_path / "cv" / "cv_report.json"), *data_overrides(dataset), "data.fold=2"]
    )
    table = (out / "report.md").read_text()
    assert "| metric | model | baseline |" in table
    assert "baseline ROC-AUC" in table


def test_evaluate_all_tracks_without_fold(dataset, bundle, tmp_path):
    report = evaluate.evaluate_bundle(bundle, [*data_overrides(dataset), "data.fold=null"])
    assert report["n_tracks"] == 24
    assert report["threshold_source"] == "all evaluated tracks"


def test_evaluate_rejects_unknown_report_layout(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"accuracy": 0.5}))
    with pytest.raises(MoodflowError, match="mood.per_tag"):
        evaluate.load_baseline_report(path)


def test_evaluate_rejects_bad_override(bundle):
    with pytest.raises(MoodflowError, match="invalid Hydra overrides"):
        evaluate.evaluate_bundle(bundle, ["data=no_such_dataset"])


def test_evaluate_reports_unknown_genre_row(dataset, bundle, tmp_path):
    tracks = pd.read_csv(dataset / "tracks.csv")
    tracks.loc[3, "genre"] = "polka"
    manifest = tmp_path / "tracks.csv"
    tracks.to_csv(manifest, index=False)
    with pytest.raises(MoodflowError) as error:
        evaluate.evaluate_bundle(bundle, [*data_overrides(dataset), f"data.manifest={manifest}"])
    assert "row 4" in str(error.value)
    assert "'polka'" in str(error.value)


@pytest.mark.parametrize(
    ("metadata", "fold", "expected_fix"),
    [
        ({"data": "emotify", "fold": 0, "n_folds": 5}, 1, "data.fold=0 data.n_folds=5"),
        ({"data": "emotify", "fold": 0, "n_folds": 4}, 0, "data.fold=0 data.n_folds=4"),
        ({"data": "emotify", "fold": None, "n_folds": 5}, 2, "train with data.fold=k"),
        ({"data": "emotify", "fold": 3, "n_folds": 5}, None, "data.fold=3"),
    ],
)
def test_overlap_check_rejects_training_tracks(metadata, fold, expected_fix):
    with pytest.raises(MoodflowError, match=expected_fix):
        evaluate.check_no_training_overlap(metadata, "emotify", 5, fold)


@pytest.mark.parametrize(
    ("metadata", "fold", "allow_overlap"),
    [
        ({"data": "emotify", "fold": 2, "n_folds": 5}, 2, False),
        ({"data": "synthetic", "fold": 0, "n_folds": 5}, 1, False),
        ({}, 1, False),
        ({"data": "emotify", "fold": 0, "n_folds": 5}, 1, True),
    ],
)
def test_overlap_check_passes_held_out(metadata, fold, allow_overlap):
    evaluate.check_no_training_overlap(metadata, "emotify", 5, fold, allow_overlap)
