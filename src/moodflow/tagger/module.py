"""Lightning module that trains a `TaggerNet` on soft mood targets and single genre labels.

Loss: `mood_loss_weight * BCEWithLogits(mood_logits, soft targets)
+ genre_loss_weight * cross-entropy(genre_logits, genre)`. With
`mixup_alpha > 0` each training batch is mixed with a shuffled copy of
itself (waveforms and both targets, weight drawn from Beta(alpha, alpha)).

Validation averages chunk predictions per track, as `TaggerBundle.predict_track`
does, and logs `val/mood_macro_roc_auc` (each mood binarised at its median
over the training fold), `val/genre_accuracy`, and `val/score`, their mean
(genre accuracy alone when no mood has a defined ROC-AUC).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from moodflow.tagger.metrics import binarize_moods, macro_average, tag_metrics
from moodflow.tagger.network import TaggerNet

logger = logging.getLogger(__name__)


def one_cycle(optimizer: torch.optim.Optimizer, total_steps: int, max_lr: float, pct_start: float = 0.3) -> dict:
    """Build a per-step one-cycle learning-rate schedule for Lightning."""
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start)
    return {"scheduler": scheduler, "interval": "step"}


def cosine(optimizer: torch.optim.Optimizer, total_steps: int, eta_min: float = 0.0) -> dict:
    """Build a per-step cosine decay of the learning rate to `eta_min`."""
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps, eta_min=eta_min)
    return {"scheduler": scheduler, "interval": "step"}


class TaggerLitModule(L.LightningModule):
    """Training, validation and optimiser set-up around a `TaggerNet`.

    `optimizer` is a partial that takes the parameters. The optional
    `scheduler` is a partial that takes the optimizer and `total_steps` and
    returns a Lightning scheduler dict, such as `one_cycle` or `cosine`.
    """

    def __init__(
        self,
        net: TaggerNet,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., dict] | None = None,
        mood_loss_weight: float = 1.0,
        genre_loss_weight: float = 1.0,
        mixup_alpha: float = 0.0,
        mood_labels: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"], logger=False)
        self.net = net
        self.mood_labels = list(mood_labels) if mood_labels else [f"mood_{i}" for i in range(net.mood_head.out_features)]
        # Set by run_training from the training fold before validation runs.
        self.register_buffer("mood_thresholds", torch.full((net.mood_head.out_features,), 0.5))
        self._validation_outputs: list[dict[str, torch.Tensor]] = []

    def forward(self, waveforms: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(waveforms)

    def on_train_epoch_start(self) -> None:
        self._epoch_started = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        # Wall time of the training batches of this epoch, without validation.
        seconds = time.perf_counter() - self._epoch_started
        self.log("train/epoch_seconds", seconds)
        logger.info("epoch %d: %.1f s of training", self.current_epoch, seconds)

    def _losses(self, outputs: dict[str, torch.Tensor], mood: torch.Tensor, genre: torch.Tensor) -> dict[str, torch.Tensor]:
        """`genre` is either class indices `[batch]` or soft class weights `[batch, n_genres]` (mixup)."""
        if mood.shape[1] > 0:
            mood_loss = F.binary_cross_entropy_with_logits(outputs["mood_logits"], mood)
        else:
            # A genre-only data set (such as a folder per genre) has no mood targets.
            mood_loss = outputs["genre_logits"].new_zeros(())
        genre_loss = F.cross_entropy(outputs["genre_logits"], genre)
        loss = self.hparams.mood_loss_weight * mood_loss + self.hparams.genre_loss_weight * genre_loss
        return {"loss": loss, "mood_loss": mood_loss, "genre_loss": genre_loss}

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> torch.Tensor:
        waveform, mood = batch["waveform"], batch["mood"]
        genre: torch.Tensor = batch["genre"]
        if self.hparams.mixup_alpha > 0 and waveform.shape[0] > 1:
            beta = torch.distributions.Beta(self.hparams.mixup_alpha, self.hparams.mixup_alpha)
            weight = beta.sample((waveform.shape[0], 1)).to(waveform.device)
            permutation = torch.randperm(waveform.shape[0], device=waveform.device)
            genre_one_hot = F.one_hot(genre, self.net.genre_head.out_features).float()
            waveform = weight * waveform + (1 - weight) * waveform[permutation]
            mood = weight * mood + (1 - weight) * mood[permutation]
            genre = weight * genre_one_hot + (1 - weight) * genre_one_hot[permutation]
        losses = self._losses(self.net(waveform), mood, genre)
        self.log_dict({f"train/{name}": value for name, value in losses.items()}, on_step=False, on_epoch=True, batch_size=waveform.shape[0])
        return losses["loss"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> None:
        outputs = self.net(batch["waveform"])
        losses = self._losses(outputs, batch["mood"], batch["genre"])
        self.log("val/loss", losses["loss"], on_epoch=True, batch_size=batch["waveform"].shape[0])
        self._validation_outputs.append(
            {
                "track": batch["track"].detach().cpu(),
                "mood_probs": torch.sigmoid(outputs["mood_logits"]).detach().cpu(),
                "genre_probs": torch.softmax(outputs["genre_logits"], dim=1).detach().cpu(),
                "mood": batch["mood"].detach().cpu(),
                "genre": batch["genre"].detach().cpu(),
            }
        )

    def on_validation_epoch_end(self) -> None:
        if not self._validation_outputs:
            return
        merged = {name: torch.cat([part[name] for part in self._validation_outputs]) for name in self._validation_outputs[0]}
        self._validation_outputs.clear()
        tracks, inverse = torch.unique(merged["track"], return_inverse=True)
        counts = torch.bincount(inverse, minlength=len(tracks)).unsqueeze(1).float()

        def per_track_mean(values: torch.Tensor) -> np.ndarray:
            sums = torch.zeros(len(tracks), values.shape[1]).index_add_(0, inverse, values.float())
            return (sums / counts).numpy()

        mood_scores = per_track_mean(merged["mood_probs"])
        genre_probs = per_track_mean(merged["genre_probs"])
        mood_fractions = per_track_mean(merged["mood"])
        first_chunk = torch.zeros(len(tracks), dtype=torch.long).scatter_(0, inverse, torch.arange(len(inverse)))
        genre_true = merged["genre"][first_chunk].numpy()

        accuracy = float(np.mean(genre_probs.argmax(axis=1) == genre_true))
        self.log("val/genre_accuracy", accuracy)
        roc_auc = None
        if mood_scores.shape[1] > 0:
            mood_true = binarize_moods(mood_fractions, self.mood_thresholds.cpu().numpy())
            roc_auc = macro_average(tag_metrics(mood_true, mood_scores, self.mood_labels), "roc_auc")
        if roc_auc is None:
            # No mood labels, or every mood has one class in this fold: score on genre alone.
            self.log("val/score", accuracy, prog_bar=True)
            return
        self.log("val/mood_macro_roc_auc", roc_auc)
        self.log("val/score", (roc_auc + accuracy) / 2, prog_bar=True)

    def configure_optimizers(self):
        optimizer = self.hparams.optimizer(params=self.parameters())
        if self.hparams.scheduler is None:
            return optimizer
        total_steps = int(self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": self.hparams.scheduler(optimizer=optimizer, total_steps=total_steps)}
