"""Training-curve plot from the CSV logger's `metrics.csv`."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import pandas as pd  # noqa: E402

logger = logging.getLogger(__name__)

LOSS_COLUMNS = ("train/loss", "val/loss")
METRIC_COLUMNS = ("val/mood_macro_roc_auc", "val/genre_accuracy", "val/score")


def plot_training_curves(metrics_csv: str | Path, png_path: str | Path) -> Path | None:
    """Plot loss (left) and validation metrics (right) per epoch into `png_path`.

    Returns the PNG path, or `None` when `metrics_csv` has no epoch rows to plot,
    which happens after a `fast_dev_run`.
    """
    metrics_csv, png_path = Path(metrics_csv), Path(png_path)
    if not metrics_csv.is_file():
        logger.warning("no training curves: %s not found", metrics_csv)
        return None
    frame = pd.read_csv(metrics_csv)
    if "epoch" not in frame.columns or frame["epoch"].dropna().empty:
        logger.warning("no training curves: %s has no epoch rows", metrics_csv)
        return None
    per_epoch = frame.groupby("epoch").mean(numeric_only=True)

    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for column in LOSS_COLUMNS:
        if column in per_epoch.columns and per_epoch[column].notna().any():
            values = per_epoch[column].dropna()
            loss_axis.plot(values.index + 1, values.to_numpy(), marker="o", label=column)
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("loss")
    loss_axis.set_title("loss")
    loss_axis.legend()
    for column in METRIC_COLUMNS:
        if column in per_epoch.columns and per_epoch[column].notna().any():
            values = per_epoch[column].dropna()
            metric_axis.plot(values.index + 1, values.to_numpy(), marker="o", label=column)
    metric_axis.set_xlabel("epoch")
    metric_axis.set_title("validation metrics")
    metric_axis.set_ylim(0, 1)
    metric_axis.legend()
    for axis in (loss_axis, metric_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
    return png_path
