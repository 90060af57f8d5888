"""`run_training(cfg)`: train a tagger from a composed Hydra config and export its bundle.

`python train.py` calls it once; the cross-validation runner calls it once per
fold with `data.fold` set.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger
from omegaconf import DictConfig, OmegaConf

from moodflow.tagger.bundle import export_bundle
from moodflow.tagger.curves import plot_training_curves
from moodflow.tagger.datamodule import TaggerDataModule

logger = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    """Outputs of one training run: metric, checkpoint, bundle and curve paths."""

    metric: float | None
    metrics: dict[str, float]
    output_dir: Path
    best_checkpoint: Path | None = None
    bundle_dir: Path | None = None
    model_id: str | None = None
    curves_png: Path | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _instantiate_group(group: DictConfig | None, kind: str) -> list[Any]:
    """Instantiate every entry with a `_target_` of a config group (callbacks, loggers)."""
    if not group:
        return []
    built = []
    for name, entry in group.items():
        if isinstance(entry, DictConfig) and "_target_" in entry:
            logger.info("instantiating %s %s <%s>", kind, name, entry._target_)
            built.append(hydra.utils.instantiate(entry))
    return built


def run_training(cfg: DictConfig) -> TrainingResult:
    """Seed, validate the data, train, reload the best checkpoint, export the bundle, plot curves.

    Returns the monitored metric (`cfg.monitor`) of the best checkpoint, or the
    last logged value when no checkpoint monitors it, or `None` without validation.
    """
    started = time.perf_counter()
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    logger.info("instantiating datamodule <%s>", cfg.data._target_)
    datamodule: TaggerDataModule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_tracks()
    train_rows, validation_rows = datamodule.split_rows()
    logger.info("fold %s: %d training and %d validation tracks", datamodule.fold, len(train_rows), len(validation_rows))

    mood_labels, genre_labels = list(cfg.data.mood_labels), list(cfg.data.genre_labels)
    logger.info("instantiating network <%s>", cfg.model.net._target_)
    net = hydra.utils.instantiate(cfg.model.net, n_moods=len(mood_labels), n_genres=len(genre_labels))
    module = hydra.utils.instantiate(cfg.model, net=net, mood_labels=mood_labels)
    module.mood_thresholds.copy_(torch.from_numpy(datamodule.mood_thresholds()))

    callbacks: list[Callback] = _instantiate_group(cfg.get("callbacks"), "callback")
    loggers: list[Logger] = _instantiate_group(cfg.get("logger"), "logger")
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    trainer.fit(module, datamodule=datamodule)

    checkpoint = next((c for c in callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
    best_path = Path(checkpoint.best_model_path) if checkpoint and checkpoint.best_model_path else None
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    metric = metrics.get(cfg.monitor) if cfg.get("monitor") else None
    if best_path is not None:
        # This run wrote the checkpoint, and it stores optimizer partials, which weights_only=True rejects.
        state = torch.load(best_path, map_location="cpu", weights_only=False)
        module.load_state_dict(state["state_dict"])
        metric = float(checkpoint.best_model_score)
        logger.info("best checkpoint %s with %s = %.4f", best_path, cfg.monitor, metric)

    result = TrainingResult(metric=metric, metrics=metrics, output_dir=output_dir, best_checkpoint=best_path)
    if cfg.get("export_bundle", True):
        bundle_dir = Path(cfg.paths.models_dir) / cfg.bundle_name
        net.eval()
        result.model_id = export_bundle(
            net,
            bundle_dir,
            mood_labels=mood_labels,
            genre_labels=genre_labels,
            chunk_samples=datamodule.chunk_samples,
            architecture={
                "front_end": OmegaConf.to_container(cfg.model.net.front_end, resolve=True),
                "backbone": OmegaConf.to_container(cfg.model.net.backbone, resolve=True),
            },
            metadata={
                "data": cfg.data.name,
                "fold": datamodule.fold,
                "n_folds": datamodule.n_folds,
                "monitor": cfg.get("monitor"),
                "metric": metric,
                "epochs": trainer.current_epoch,
            },
        )
        result.bundle_dir = bundle_dir

    csv_logger = next((item for item in loggers if isinstance(item, CSVLogger)), None)
    if csv_logger is not None:
        result.curves_png = plot_training_curves(Path(csv_logger.log_dir) / "metrics.csv", output_dir / "training_curves.png")
    result.seconds = time.perf_counter() - started
    if cfg.get("monitor"):
        logger.info("training finished in %.0f s; %s = %s; bundle %s", result.seconds, cfg.monitor, metric, result.bundle_dir)
    else:
        logger.info("training finished in %.0f s without a monitored metric; bundle %s", result.seconds, result.bundle_dir)
    return result

