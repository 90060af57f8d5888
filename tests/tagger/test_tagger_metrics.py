"""Metrics on cases whose answer is computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from moodflow.tagger.metrics import (
    MetricsError,
    binarize_moods,
    build_report,
    genre_metrics,
    macro_average,
    median_thresholds,
    summarize_folds,
    tag_metrics,
)

# Tag "mixed": positives score 0.9 and 0.4, negatives 0.8 and 0.1. Three of
# the four positive-negative pairs are ordered correctly, so ROC-AUC = 0.75.
# Ranked by score the labels read P, N, P, N, so average precision is
# (1/1 + 2/3) / 2 = 5/6.
Y_TRUE = np.array([[1, 0, 0], [0, 0, 0], [1, 0, 1], [0, 0, 1]], dtype=bool)
Y_SCORE = np.array([[0.9, 0.5, 0.1], [0.8, 0.5, 0.2], [0.4, 0.5, 0.3], [0.1, 0.5, 0.4]])
LABELS = ["mixed", "no_positives", "perfect"]


def test_tag_metrics_hand_computed_auc():
    per_tag = tag_metrics(Y_TRUE, Y_SCORE, LABELS)
    assert per_tag["mixed"]["roc_auc"] == pytest.approx(0.75)
    assert per_tag["mixed"]["pr_auc"] == pytest.approx(5 / 6)
    assert per_tag["perfect"]["roc_auc"] == pytest.approx(1.0)
    assert per_tag["perfect"]["pr_auc"] == pytest.approx(1.0)


def test_tag_without_positives_is_undefined():
    per_tag = tag_metrics(Y_TRUE, Y_SCORE, LABELS)
    assert per_tag["no_positives"]["roc_auc"] is None
    assert per_tag["no_positives"]["pr_auc"] is None
    assert per_tag["no_positives"]["n_positive"] == 0
    assert per_tag["no_positives"]["n_negative"] == 4


def test_macro_average_skips_undefined_tags():
    per_tag = tag_metrics(Y_TRUE, Y_SCORE, LABELS)
    assert macro_average(per_tag, "roc_auc") == pytest.approx((0.75 + 1.0) / 2)
    assert macro_average(per_tag, "pr_auc") == pytest.approx((5 / 6 + 1.0) / 2)


def test_macro_average_all_undefined_is_none():
    per_tag = tag_metrics(np.zeros((3, 1), dtype=bool), np.zeros((3, 1)), ["silent"])
    assert macro_average(per_tag, "roc_auc") is None


def test_median_threshold_binarization():
    train = np.array([[0.1, 0.0], [0.2, 0.0], [0.3, 0.0], [0.4, 0.5]])
    thresholds = median_thresholds(train)
    assert thresholds.tolist() == pytest.approx([0.25, 0.0])
    binary = binarize_moods(np.array([[0.25, 0.0], [0.26, 0.1]]), thresholds)
    # Positive only strictly above the median, so a median of 0 keeps the
    # tracks with any vote as positives.
    assert binary.tolist() == [[False, False], [True, True]]


def test_binarize_rejects_wrong_threshold_count():
    with pytest.raises(MetricsError, match="2 thresholds for 3 moods"):
        binarize_moods(np.zeros((2, 3)), np.zeros(2))


def test_genre_accuracy_and_confusion_matrix():
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.0, 0.1, 0.9], [0.2, 0.6, 0.2]])
    result = genre_metrics(np.array([0, 1, 2, 2]), probs, ["pop", "rock", "jazz"])
    assert result["accuracy"] == pytest.approx(0.5)
    assert result["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]


def test_genre_metrics_rejects_index_out_of_range():
    with pytest.raises(MetricsError, match=r"\[0, 1\]"):
        genre_metrics(np.array([0, 2]), np.eye(2), ["a", "b"])


def test_tag_metrics_rejects_shape_mismatch():
    with pytest.raises(MetricsError, match="shape"):
        tag_metrics(Y_TRUE, Y_SCORE[:, :2], LABELS)


def test_tag_metrics_rejects_nan_scores():
    scores = Y_SCORE.copy()
    scores[0, 0] = np.nan
    with pytest.raises(MetricsError, match="NaN"):
        tag_metrics(Y_TRUE, scores, LABELS)


def test_build_report_lists_undefined_tags():
    fractions = np.array([[0.9, 0.0], [0.1, 0.0], [0.8, 0.0]])
    report = build_report(
        mood_labels=["calm", "tense"],
        mood_fractions=fractions,
        mood_scores=np.array([[0.7, 0.1], [0.2, 0.1], [0.6, 0.1]]),
        thresholds=np.array([0.5, 0.0]),
        genre_labels=["a", "b"],
        genre_index=np.array([0, 1, 1]),
        genre_probs=np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]),
    )
    assert report["mood"]["undefined_tags"] == ["tense"]
    assert report["mood"]["macro_roc_auc"] == pytest.approx(1.0)
    assert report["genre"]["accuracy"] == pytest.approx(2 / 3)


def test_summarize_folds_means_defined_values():
    def fold(roc: float | None, accuracy: float) -> dict:
        return {
            "mood": {"per_tag": {"calm": {"roc_auc": roc, "pr_auc": roc}}, "macro_roc_auc": roc, "macro_pr_auc": roc},
            "genre": {"accuracy": accuracy},
        }

    summary = summarize_folds([fold(0.6, 0.5), fold(None, 0.7), fold(0.8, 0.9)])
    assert summary["genre_accuracy"]["mean"] == pytest.approx(0.7)
    assert summary["mood_macro_roc_auc"]["mean"] == pytest.approx(0.7)
    assert summary["mood_macro_roc_auc"]["n_folds"] == 2
    assert summary["mood_per_tag"]["calm"]["roc_auc"]["std"] == pytest.approx(0.1)
