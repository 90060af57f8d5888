"""Tagging metrics: per-tag ROC-AUC and PR-AUC, macro averages, genre accuracy.

Mood targets are soft (the fraction of listeners who felt each emotion). For
ranking metrics each emotion is binarised: a track is positive for an emotion
when its vote fraction is strictly greater than that emotion's median vote
fraction over the *training* tracks. The strict comparison keeps an emotion
whose median is 0 usable, because its positives are then the tracks with any
vote. Thresholds always come from training tracks, so the held-out labels
never shape their own threshold.

A tag whose evaluated tracks are all positive or all negative has no defined
ROC-AUC or PR-AUC. Such a tag is reported with `None`, listed under
`undefined_tags`, and left out of the macro averages.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

from moodflow.errors import MoodflowError

logger = logging.getLogger(__name__)


class MetricsError(MoodflowError):
    """Predictions and labels do not match in shape, range or vocabulary."""


def median_thresholds(train_fractions: np.ndarray) -> np.ndarray:
    """Return each emotion's median vote fraction over the training tracks.

    `train_fractions` has shape `[n_tracks, n_moods]` with values in [0, 1].
    """
    fractions = _as_2d_float(train_fractions, "training vote fractions")
    if fractions.shape[0] == 0:
        raise MetricsError("cannot compute mood thresholds from zero training tracks")
    return np.median(fractions, axis=0)


def binarize_moods(fractions: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Return a boolean `[n_tracks, n_moods]` array: fraction > threshold."""
    fractions = _as_2d_float(fractions, "vote fractions")
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.shape != (fractions.shape[1],):
        raise MetricsError(
            f"got {thresholds.shape[0] if thresholds.ndim == 1 else thresholds.shape} thresholds "
            f"for {fractions.shape[1]} moods; pass one threshold per mood"
        )
    return fractions > thresholds[None, :]


def tag_metrics(
    y_true: np.ndarray, y_score: np.ndarray, labels: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """Compute ROC-AUC and PR-AUC for each tag of a multi-label problem.

    `y_true` is a boolean `[n_tracks, n_tags]` array and `y_score` a score of
    the same shape (higher means more likely). PR-AUC is scikit-learn's
    average precision. A tag without positives or without negatives gets
    `None` for both metrics.
    """
    y_true = np.asarray(y_true).astype(bool)
    y_score = _as_2d_float(y_score, "tag scores")
    if y_true.shape != y_score.shape:
        raise MetricsError(f"labels have shape {y_true.shape} but scores have shape {y_score.shape}")
    if len(labels) != y_true.shape[1]:
        raise MetricsError(f"got {len(labels)} tag names for {y_true.shape[1]} tag columns: {list(labels)}")
    if not np.all(np.isfinite(y_score)):
        raise MetricsError("tag scores contain NaN or infinite values")

    per_tag: dict[str, dict[str, float | int | None]] = {}
    for column, label in enumerate(labels):
        truth = y_true[:, column]
        n_positive = int(truth.sum())
        n_negative = int(truth.size - n_positive)
        entry: dict[str, float | int | None] = {
            "n_positive": n_positive,
            "n_negative": n_negative,
            "roc_auc": None,
            "pr_auc": None,
        }
        if n_positive > 0 and n_negative > 0:
            entry["roc_auc"] = float(roc_auc_score(truth, y_score[:, column]))
            entry["pr_auc"] = float(average_precision_score(truth, y_score[:, column]))
        per_tag[label] = entry
    return per_tag


def macro_average(per_tag: dict[str, dict[str, float | int | None]], metric: str) -> float | None:
    """Return the mean of `metric` over the tags where it is defined, or `None` if none is."""
    values = [entry[metric] for entry in per_tag.values() if entry[metric] is not None]
    if not values:
        return None
    return float(np.mean(values))


def undefined_tags(per_tag: dict[str, dict[str, float | int | None]]) -> list[str]:
    """Return the tags whose ROC-AUC is undefined because one class is absent."""
    return [label for label, entry in per_tag.items() if entry["roc_auc"] is None]


def genre_metrics(
    true_index: np.ndarray, genre_probs: np.ndarray, labels: Sequence[str]
) -> dict[str, object]:
    """Compute genre accuracy and the confusion matrix (rows true, columns predicted).

    `true_index` contains class indices into `labels`. `genre_probs` has
    shape `[n_tracks, n_genres]`, and the predicted genre is its arg-max.
    """
    true_index = np.asarray(true_index)
    probs = _as_2d_float(genre_probs, "genre probabilities")
    if probs.shape != (true_index.shape[0], len(labels)):
        raise MetricsError(
            f"genre probabilities have shape {probs.shape}; expected "
            f"({true_index.shape[0]}, {len(labels)}) for labels {list(labels)}"
        )
    if true_index.size and (true_index.min() < 0 or true_index.max() >= len(labels)):
        raise MetricsError(f"genre indices must lie in [0, {len(labels) - 1}], got {sorted(set(true_index.tolist()))}")

    predicted = probs.argmax(axis=1)
    matrix = confusion_matrix(true_index, predicted, labels=list(range(len(labels))))
    accuracy = float(np.mean(predicted == true_index)) if true_index.size else None
    return {
        "accuracy": accuracy,
        "labels": list(labels),
        "confusion_matrix": matrix.astype(int).tolist(),
        "n_tracks": int(true_index.size),
    }


def build_report(
    *,
    mood_labels: Sequence[str],
    mood_fractions: np.ndarray,
    mood_scores: np.ndarray,
    thresholds: np.ndarray,
    genre_labels: Sequence[str],
    genre_index: np.ndarray,
    genre_probs: np.ndarray,
) -> dict[str, object]:
    """Build the evaluation report of one split as a JSON-ready dict.

    `mood_fractions` are the held-out soft targets, binarised with
    `thresholds` (from `median_thresholds` over the training tracks).
    """
    mood_true = binarize_moods(mood_fractions, thresholds)
    per_tag = tag_metrics(mood_true, mood_scores, mood_labels)
    undefined = undefined_tags(per_tag)
    if undefined:
        logger.warning("mood tags with only one class in this split, left out of macro averages: %s", undefined)

    return {
        "n_tracks": int(mood_true.shape[0]),
        "mood": {
            "binarization": "positive when vote fraction > training median of that emotion",
            "thresholds": {label: float(value) for label, value in zip(mood_labels, thresholds)},
            "per_tag": per_tag,
            "macro_roc_auc": macro_average(per_tag, "roc_auc"),
            "macro_pr_auc": macro_average(per_tag, "pr_auc"),
            "undefined_tags": undefined,
        },
        "genre": genre_metrics(genre_index, genre_probs, genre_labels),
    }


def summarize_folds(reports: Sequence[dict[str, object]]) -> dict[str, object]:
    """Return the mean and standard deviation over folds of each headline metric.

    Per-tag means skip the folds where the tag was undefined; `n_folds`
    under each tag is the number of folds that contributed.
    """
    if not reports:
        raise MetricsError("cannot summarise zero fold reports")

    def collect(values: list[float | None]) -> dict[str, float | int | None]:
        defined = [value for value in values if value is not None and not math.isnan(value)]
        if not defined:
            return {"mean": None, "std": None, "n_folds": 0}
        return {"mean": float(np.mean(defined)), "std": float(np.std(defined)), "n_folds": len(defined)}

    mood_labels = list(reports[0]["mood"]["per_tag"])
    per_tag = {
        label: {
            metric: collect([report["mood"]["per_tag"][label][metric] for report in reports])
            for metric in ("roc_auc", "pr_auc")
        }
        for label in mood_labels
    }
    return {
        "n_folds": len(reports),
        "genre_accuracy": collect([report["genre"]["accuracy"] for report in reports]),
        "mood_macro_roc_auc": collect([report["mood"]["macro_roc_auc"] for report in reports]),
        "mood_macro_pr_auc": collect([report["mood"]["macro_pr_auc"] for report in reports]),
        "mood_per_tag": per_tag,
    }


def _as_2d_float(values: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise MetricsError(f"{what} must be a 2-D array [tracks, tags], got shape {array.shape}")
    return array
