"""PNG plots of evaluation reports: per-tag AUC bars and the genre confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

METRIC_TITLES = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC"}


def plot_tag_bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    metric: str,
    path: str | Path,
    errors: Mapping[str, Sequence[float | None]] | None = None,
    title: str | None = None,
) -> Path:
    """Draw one horizontal bar per tag and per model (e.g. CNN and baseline) and save a PNG.

    `series` maps a model name to one value per tag; `None` (undefined) is
    drawn as an empty slot with the text "undefined". `errors` contains optional
    standard deviations drawn as error bars.
    """
    path = Path(path)
    names = list(series)
    n_tags, n_models = len(labels), len(names)
    height = 0.8 / max(n_models, 1)
    figure, axes = plt.subplots(figsize=(9, 1.2 + 0.45 * n_tags * max(n_models, 1)))
    positions = np.arange(n_tags)

    for model_number, name in enumerate(names):
        values = series[name]
        offsets = positions - 0.4 + height * (model_number + 0.5)
        drawn = np.array([np.nan if value is None else value for value in values], dtype=float)
        spread = None
        if errors is not None and name in errors:
            spread = np.array([0.0 if value is None else value for value in errors[name]], dtype=float)
        bars = axes.barh(offsets, np.nan_to_num(drawn), height=height, xerr=spread, label=name, capsize=2)
        for offset, value, bar in zip(offsets, drawn, bars):
            text = "undefined" if np.isnan(value) else f"{value:.2f}"
            axes.text(0.01, offset, text, va="center", ha="left", fontsize=8, color="white" if value > 0.1 else "black")
            bar.set_alpha(1.0 if not np.isnan(value) else 0.0)

    metric_title = METRIC_TITLES.get(metric, metric)
    axes.set_yticks(positions, labels=list(labels))
    axes.invert_yaxis()
    axes.set_xlim(0.0, 1.0)
    axes.set_xlabel(metric_title)
    if metric == "roc_auc":
        axes.axvline(0.5, color="grey", linestyle="--", linewidth=1, label="chance (0.5)")
    axes.set_title(title or f"Per-tag {metric_title}")
    # Outside the axes, so the legend never covers a bar.
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: str | Path, title: str) -> Path:
    """Draw a confusion matrix (rows true, columns predicted) with counts in the cells and save a PNG."""
    path = Path(path)
    counts = np.asarray(matrix, dtype=int)
    size = 2.5 + 0.7 * len(labels)
    figure, axes = plt.subplots(figsize=(size + 1.0, size))
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, label="tracks")
    threshold = counts.max() / 2 if counts.size else 0
    for row in range(counts.shape[0]):
        for column in range(counts.shape[1]):
            colour = "white" if counts[row, column] > threshold else "black"
            axes.text(column, row, str(counts[row, column]), ha="center", va="center", color=colour)
    axes.set_xticks(range(len(labels)), labels=list(labels), rotation=30, ha="right")
    axes.set_yticks(range(len(labels)), labels=list(labels))
    axes.set_xlabel("predicted genre")
    axes.set_ylabel("true genre")
    axes.set_title(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
