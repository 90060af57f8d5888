"""Training of the cold-start MLP and of its ridge baseline on warm tracks.

Feature missingness is handled by feature dropout. In every epoch each
present block of each training row is hidden with probability
`feature_dropout`, and a row keeps all its blocks when dropout would hide
every one. One network therefore learns every combination of blocks.

The MLP's loss is `1 - cos(prediction, target)` plus, with
`training.partner_weight > 0`, a partner loss: a softmax over the warm
tracks' vectors (sampled negatives, temperature `partner_temperature`)
that rewards ranking the track's later playlist partners high, since they
are what a projected release must be retrieved with. The track's own row
is masked out of the softmax, because a new release is not in the catalogue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from moodflow.coldstart.assemble import TrainingRows
from moodflow.coldstart.errors import NoTrainingDataError
from moodflow.coldstart.features import FeatureTable
from moodflow.coldstart.model import RidgeProjection
from moodflow.coldstart.projector import ColdStartModel, FeatureLayout

logger = logging.getLogger(__name__)


def drop_blocks(mask: np.ndarray, probability: float, rng: np.random.Generator) -> np.ndarray:
    """Hide each present block with `probability`; rows that would lose every block keep all."""
    visible = mask * (rng.random(mask.shape) >= probability)
    emptied = (visible.sum(axis=1) == 0) & (mask.sum(axis=1) > 0)
    visible[emptied] = mask[emptied]
    return visible.astype(np.float32)


def apply_mask(x: np.ndarray, space_inputs: np.ndarray, mask: np.ndarray, layout: FeatureLayout) -> tuple[np.ndarray, np.ndarray]:
    """Zero the columns and space inputs of hidden blocks."""
    x = x.copy()
    space_inputs = space_inputs.copy()
    for index, columns in enumerate(layout.block_slices()):
        x[:, columns] *= mask[:, index : index + 1]
    for position, index in enumerate(layout.space_blocks):
        space_inputs[:, position] *= mask[:, index : index + 1]
    return x, space_inputs


def split_by_track(track_ids: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Return a validation mask over rows; all rows of one track fall on the same side."""
    unique = np.unique(track_ids)
    n_validation = int(round(fraction * len(unique)))
    validation_ids = set(rng.choice(unique, size=n_validation, replace=False).tolist()) if n_validation else set()
    return np.fromiter((track_id in validation_ids for track_id in track_ids), dtype=bool, count=len(track_ids))


def fit_layout(table: FeatureTable, targets: np.ndarray, **extra) -> tuple[FeatureLayout, np.ndarray]:
    """Fit the layout and return it with the rows usable for training (some block present)."""
    usable = np.zeros(len(table), dtype=bool)
    for block in table.blocks.values():
        usable |= block.present
    usable &= np.isfinite(targets).all(axis=1)
    if not usable.any():
        raise NoTrainingDataError(
            f"none of the {len(table)} warm tracks has a usable feature among {list(table.blocks)}; "
            f"give a tagging table, artist metadata, descriptors or playlists that cover warm tracks"
        )
    return FeatureLayout.fit(table, space_dim=targets.shape[1], **extra), usable


class PartnerLoss:
    """Sampled-softmax loss over the warm catalogue with each row's playlist partners as positives."""

    def __init__(self, catalogue: np.ndarray, partners: list[np.ndarray], own_rows: np.ndarray, settings: DictConfig,
                 rng: np.random.Generator) -> None:
        self.catalogue = torch.from_numpy(np.ascontiguousarray(catalogue, dtype=np.float32))
        self.partners = partners
        self.own_rows = np.asarray(own_rows, dtype=np.int64)
        self.temperature = float(settings.partner_temperature)
        self.negatives = min(int(settings.partner_negatives), len(catalogue))
        self.max_partners = int(settings.max_partners)
        self.rng = rng

    def partner_matrix(self, rows: np.ndarray) -> np.ndarray:
        """Return `[len(rows), max_partners]` catalogue rows of partners, -1 where there are fewer."""
        matrix = np.full((len(rows), self.max_partners), -1, dtype=np.int64)
        for index, row in enumerate(rows):
            partners = self.partners[row]
            if len(partners) > self.max_partners:
                partners = self.rng.choice(partners, size=self.max_partners, replace=False)
            matrix[index, : len(partners)] = partners
        return matrix

    def __call__(self, prediction: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        partners = torch.from_numpy(self.partner_matrix(rows))
        valid = partners >= 0
        has_partners = valid.any(dim=1)
        if not has_partners.any():
            return prediction.new_zeros(())
        sampled = torch.from_numpy(self.rng.choice(len(self.catalogue), size=self.negatives, replace=False))
        own = torch.from_numpy(self.own_rows[rows])
        negative_logits = (prediction @ self.catalogue[sampled].T / self.temperature).masked_fill(
            sampled[None, :] == own[:, None], float("-inf")
        )
        positive_logits = (prediction[:, None, :] * self.catalogue[partners.clamp(min=0)]).sum(dim=-1) / self.temperature
        log_probability = positive_logits - torch.logaddexp(positive_logits, torch.logsumexp(negative_logits, dim=1, keepdim=True))
        per_row = (log_probability * valid).sum(dim=1)[has_partners] / valid.sum(dim=1)[has_partners]
        return -per_row.mean()


def train_mlp(
    table: FeatureTable,
    targets: np.ndarray,
    space_id: str,
    config: DictConfig,
    layout: FeatureLayout,
    partner_loss: PartnerLoss | None = None,
) -> ColdStartModel:
    """Train the MLP with the cosine loss (plus the weighted partner loss when given) and early stopping."""
    settings = config.training
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    x, mask, space_inputs = layout.encode(table)
    targets = targets.astype(np.float32)
    validation = split_by_track(table.track_ids, settings.validation_fraction, rng)
    train_rows = np.flatnonzero(~validation)
    partner_weight = float(settings.get("partner_weight", 0.0)) if partner_loss is not None else 0.0
    validation_mask = drop_blocks(mask[validation], settings.feature_dropout, rng)
    validation_x, validation_space = apply_mask(x[validation], space_inputs[validation], validation_mask, layout)

    network_args = OmegaConf.to_container(config.model, resolve=True)
    network_args.pop("_target_", None)
    network = instantiate(
        config.model,
        input_dim=layout.input_dim,
        n_blocks=len(layout.blocks),
        space_block_indices=layout.space_blocks,
        output_dim=layout.space_dim,
    )
    optimizer = instantiate(config.optimizer)(network.parameters())
    logger.info(
        "training MLP: %d rows (%d validation), blocks %s, input %d -> %d, %d parameters",
        len(table), int(validation.sum()), layout.blocks, layout.input_dim, layout.space_dim,
        sum(parameter.numel() for parameter in network.parameters()),
    )

    best_cosine, best_state, stale_epochs = -np.inf, None, 0
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(settings.torch_threads)
    started = time.perf_counter()
    for epoch in range(settings.epochs):
        network.train()
        rows = train_rows
        if settings.rows_per_epoch and len(rows) > settings.rows_per_epoch:
            rows = rng.choice(rows, size=settings.rows_per_epoch, replace=False)
        epoch_mask = drop_blocks(mask[rows], settings.feature_dropout, rng)
        epoch_x, epoch_space = apply_mask(x[rows], space_inputs[rows], epoch_mask, layout)
        epoch_targets = targets[rows]
        for start in range(0, len(rows), settings.batch_size):
            batch = slice(start, start + settings.batch_size)
            prediction = network(torch.from_numpy(epoch_x[batch]), torch.from_numpy(epoch_mask[batch]), torch.from_numpy(epoch_space[batch]))
            loss = (1.0 - (prediction * torch.from_numpy(epoch_targets[batch])).sum(dim=1)).mean()
            if partner_weight:
                loss = loss + partner_weight * partner_loss(prediction, rows[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        cosine = _mean_cosine(network, validation_x, validation_mask, validation_space, targets[validation])
        logger.info("epoch %d: train loss %.4f, validation cosine %.4f", epoch, loss.item(), cosine)
        if cosine > best_cosine + 1e-4:
            best_cosine, stale_epochs = cosine, 0
            best_state = {name: value.detach().clone() for name, value in network.state_dict().items()}
        else:
            stale_epochs += 1
            if stale_epochs >= settings.patience:
                break
    torch.set_num_threads(previous_threads)
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    seconds = time.perf_counter() - started
    summary = {"train_seconds": seconds, "epochs": epoch + 1, "validation_cosine": float(best_cosine), "rows": len(table)}
    logger.info("MLP trained in %.1f s, %d epochs, best validation cosine %.4f", seconds, epoch + 1, best_cosine)
    return ColdStartModel("mlp", layout, space_id, network=network, network_args=network_args, summary=summary)


def _mean_cosine(network, x: np.ndarray, mask: np.ndarray, space_inputs: np.ndarray, targets: np.ndarray) -> float:
    if len(x) == 0:
        return float("nan")
    network.eval()
    with torch.inference_mode():
        prediction = network(torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(space_inputs)).numpy()
    return float((prediction * targets).sum(axis=1).mean())


def train_ridge(table: FeatureTable, targets: np.ndarray, space_id: str, config: DictConfig, layout: FeatureLayout) -> ColdStartModel:
    """Fit the ridge baseline on `augment_copies` feature-dropout copies of the training rows."""
    rng = np.random.default_rng(config.training.seed)
    x, mask, space_inputs = layout.encode(table)
    copies_x, copies_mask, copies_targets = [x], [mask], [targets]
    for _ in range(config.ridge.augment_copies):
        dropped = drop_blocks(mask, config.training.feature_dropout, rng)
        copies_x.append(apply_mask(x, space_inputs, dropped, layout)[0])
        copies_mask.append(dropped)
        copies_targets.append(targets)
    started = time.perf_counter()
    ridge = RidgeProjection(config.ridge.alpha).fit(np.concatenate(copies_x), np.concatenate(copies_mask), np.concatenate(copies_targets))
    summary = {"train_seconds": time.perf_counter() - started, "rows": len(table)}
    logger.info("ridge fitted in %.2f s on %d rows", summary["train_seconds"], len(table) * (config.ridge.augment_copies + 1))
    return ColdStartModel("ridge", layout, space_id, ridge=ridge, summary=summary)




def train_models(
    table: FeatureTable,
    targets: np.ndarray,
    space_id: str,
    config: DictConfig,
    kinds=("mlp", "ridge"),
    partners: list[np.ndarray] | None = None,
    space=None,
    **layout_extra,
) -> dict[str, ColdStartModel]:
    """Train each model kind in `kinds` on the usable rows of `table`; return them by kind.

    With `partners` (one array of catalogue rows per table row) and the
    `space` whose vectors form the catalogue, the MLP also learns the
    partner loss.
    """
    layout, usable = fit_layout(table, targets, **layout_extra)
    rows = np.flatnonzero(usable)
    subset = FeatureTable(
        table.track_ids[rows],
        {name: block.take(rows) for name, block in table.blocks.items()},
    )
    partner_loss = None
    if partners is not None and space is not None and config.training.get("partner_weight", 0.0):
        partner_loss = PartnerLoss(
            space.vectors, [partners[row] for row in rows], space.rows_of(subset.track_ids), config.training,
            np.random.default_rng(config.training.seed + 1),
        )
    trainers: dict[str, Callable[..., ColdStartModel]] = {
        "mlp": partial(train_mlp, partner_loss=partner_loss),
        "ridge": train_ridge,
    }
    return {kind: trainers[kind](subset, targets[rows], space_id, config, layout) for kind in kinds}


def train_from_rows(rows: TrainingRows, space, config: DictConfig, kinds=("mlp", "ridge")) -> dict[str, ColdStartModel]:
    """Train on `warm_training_rows` output for `space`, with the partner loss when the rows have partners."""
    return train_models(rows.table, rows.targets, space.space_id, config, kinds, partners=rows.partners, space=space, **rows.extras)
