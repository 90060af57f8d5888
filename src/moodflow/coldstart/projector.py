"""The trained cold-start projection: feature layout, encoding, save/load, projecting.

A model folder contains `model.json` (kind, feature layout with its
standardisation statistics, network arguments, `model_id`, `space_id`) and
the weights (`weights.pt` for the MLP, `ridge.npy` for the ridge baseline).
`model_id` is a content hash of the layout, the space id and the weights.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from moodflow.coldstart.errors import ColdStartError
from moodflow.coldstart.features import SPACE_BLOCKS, FeatureTable
from moodflow.coldstart.model import ProjectionMLP, RidgeProjection
from moodflow.errors import SpaceMismatchError
from moodflow.hashing import content_hash

logger = logging.getLogger(__name__)

MODEL_KINDS = ("mlp", "ridge")
NO_FEATURE_REASON = "no usable feature"


@dataclass
class FeatureLayout:
    """Block order, block sizes and standardisation statistics of a model's input.

    Each block takes `dims[name] + evidence_dims.get(name, 0)` input columns:
    its (standardised) values, then its evidence columns.
    """

    blocks: list[str]
    dims: dict[str, int]
    space_dim: int
    means: dict[str, list[float]] = field(default_factory=dict)
    stds: dict[str, list[float]] = field(default_factory=dict)
    embedding_dim: int | None = None
    audio_label_columns: list[str] = field(default_factory=list)
    descriptor_columns: list[str] = field(default_factory=list)
    evidence_dims: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fit(cls, table: FeatureTable, space_dim: int, **extra) -> FeatureLayout:
        """Choose the blocks present in `table` and measure means and deviations of the others."""
        blocks = [name for name, block in table.blocks.items() if block.present.any()]
        layout = cls(
            blocks=blocks,
            dims={name: table.blocks[name].dim for name in blocks},
            space_dim=space_dim,
            evidence_dims={name: table.blocks[name].evidence_dim for name in blocks if table.blocks[name].evidence_dim},
            **extra,
        )
        for name in blocks:
            if name in SPACE_BLOCKS:
                continue
            values = table.blocks[name].values[table.blocks[name].present].astype(np.float64)
            layout.means[name] = values.mean(axis=0).tolist()
            # A constant column keeps a deviation of 1 rather than dividing by zero.
            layout.stds[name] = np.where(values.std(axis=0) > 1e-6, values.std(axis=0), 1.0).tolist()
        return layout

    @property
    def space_blocks(self) -> list[int]:
        return [index for index, name in enumerate(self.blocks) if name in SPACE_BLOCKS]

    def width(self, name: str) -> int:
        """Input columns of block `name`: its values and its evidence."""
        return self.dims[name] + self.evidence_dims.get(name, 0)

    @property
    def input_dim(self) -> int:
        return sum(self.width(name) for name in self.blocks)

    def block_slices(self) -> list[slice]:
        slices, start = [], 0
        for name in self.blocks:
            slices.append(slice(start, start + self.width(name)))
            start += self.width(name)
        return slices

    def encode(self, table: FeatureTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return `x [n, input_dim]`, `mask [n, n_blocks]` and `space_inputs [n, n_space, dim]`."""
        n = len(table)
        x = np.zeros((n, self.input_dim), dtype=np.float32)
        mask = np.zeros((n, len(self.blocks)), dtype=np.float32)
        space_inputs = np.zeros((n, len(self.space_blocks), self.space_dim), dtype=np.float32)
        for index, (name, columns) in enumerate(zip(self.blocks, self.block_slices())):
            block = table.blocks.get(name)
            if block is None:
                continue
            if block.dim != self.dims[name]:
                raise ColdStartError(f"feature block {name!r} has {block.dim} columns, the model expects {self.dims[name]}")
            values = block.values
            if name in self.means:
                values = (values - np.asarray(self.means[name], np.float32)) / np.asarray(self.stds[name], np.float32)
            present = block.present
            evidence_dim = self.evidence_dims.get(name, 0)
            if evidence_dim:
                if block.evidence_dim != evidence_dim:
                    raise ColdStartError(
                        f"feature block {name!r} has {block.evidence_dim} evidence columns, the model expects "
                        f"{evidence_dim}; retrain the model with this version of moodflow"
                    )
                values = np.hstack([values, block.evidence])
            x[present, columns] = values[present]
            mask[:, index] = present
            if name in SPACE_BLOCKS:
                space_inputs[present, self.space_blocks.index(index)] = block.values[present]
        return x, mask, space_inputs


class ColdStartModel:
    """A trained projection (MLP or ridge) bound to the music space it was trained for."""

    def __init__(
        self,
        kind: str,
        layout: FeatureLayout,
        space_id: str,
        network: ProjectionMLP | None = None,
        ridge: RidgeProjection | None = None,
        network_args: dict | None = None,
        summary: dict | None = None,
    ) -> None:
        if kind not in MODEL_KINDS:
            raise ColdStartError(f"invalid model kind {kind!r}; use one of {MODEL_KINDS}")
        self.kind = kind
        self.layout = layout
        self.space_id = space_id
        self.network = network
        self.ridge = ridge
        self.network_args = network_args or {}
        self.summary = summary or {}
        self.model_id = self._compute_id()

    def _weight_arrays(self) -> list[tuple[str, np.ndarray]]:
        if self.kind == "ridge":
            return [("ridge", self.ridge.weights)]
        state = self.network.state_dict()
        return [(name, state[name].detach().cpu().numpy()) for name in sorted(state)]

    def _compute_id(self) -> str:
        parts: list[bytes | str] = [self.kind, self.space_id, json.dumps(asdict(self.layout), sort_keys=True)]
        for name, array in self._weight_arrays():
            parts += [name, np.ascontiguousarray(array).tobytes()]
        return content_hash(parts)

    # --- projecting --------------------------------------------------------------------------

    def check_space(self, space_id: str) -> None:
        """Raise `SpaceMismatchError` unless `space_id` is the space this model was trained for."""
        if space_id != self.space_id:
            raise SpaceMismatchError(f"cold-start model {self.model_id}", space_id, self.space_id)

    def predict(self, table: FeatureTable) -> np.ndarray:
        """Return unit vectors `[n, dim]`; rows without any present block are NaN."""
        x, mask, space_inputs = self.layout.encode(table)
        if self.kind == "ridge":
            vectors = self.ridge.predict(x, mask)
        else:
            self.network.eval()
            with torch.inference_mode():
                vectors = self.network(torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(space_inputs)).numpy()
        vectors = vectors.astype(np.float32)
        vectors[mask.sum(axis=1) == 0] = np.nan
        return vectors

    def project(self, table: FeatureTable, space_id: str) -> pd.DataFrame:
        """Project tracks into the space `space_id`, one output row per input track.

        A track with no usable feature is kept with `projectable = False`, a
        `reason` and a null vector, never a random or zero vector.
        """
        self.check_space(space_id)
        vectors = self.predict(table)
        rows = []
        for index, track_id in enumerate(table.track_ids):
            used = "+".join(name for name in self.layout.blocks if table.blocks.get(name) is not None and table.blocks[name].present[index])
            projectable = bool(used) and bool(np.isfinite(vectors[index]).all())
            notes = "; ".join(table.notes[index]) if table.notes else ""
            reason = "" if projectable else "; ".join(filter(None, [NO_FEATURE_REASON + f" among {self.layout.blocks}", notes]))
            rows.append(
                {
                    "track_id": str(track_id),
                    "vector": vectors[index] if projectable else None,
                    "features_used": used,
                    "model_id": self.model_id,
                    "space_id": self.space_id,
                    "projectable": projectable,
                    "reason": reason if not projectable else notes,
                }
            )
        return pd.DataFrame(rows, columns=["track_id", "vector", "features_used", "model_id", "space_id", "projectable", "reason"])

    # --- persistence -------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write `model.json` and the weights into `folder` and return it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.kind == "ridge":
            np.save(folder / "ridge.npy", self.ridge.weights)
        else:
            torch.save(self.network.state_dict(), folder / "weights.pt")
        description = {
            "kind": self.kind,
            "model_id": self.model_id,
            "space_id": self.space_id,
            "layout": asdict(self.layout),
            "network_args": self.network_args,
            "ridge_alpha": self.ridge.alpha if self.ridge is not None else None,
            "summary": self.summary,
        }
        _write_text_atomic(folder / "model.json", json.dumps(description, indent=2, sort_keys=True))
        logger.info("saved %s cold-start model %s to %s", self.kind, self.model_id, folder)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ColdStartModel:
        """Load a model folder written by `save`, checking its content hash."""
        folder = Path(folder)
        description_path = folder / "model.json"
        if not description_path.exists():
            raise ColdStartError(f"cold-start model not found: {description_path} is missing")
        description = json.loads(description_path.read_text())
        layout = FeatureLayout(**description["layout"])
        kind = description["kind"]
        if kind == "ridge":
            ridge = RidgeProjection(description["ridge_alpha"])
            ridge.weights = np.load(folder / "ridge.npy")
            model = cls(kind, layout, description["space_id"], ridge=ridge, summary=description["summary"])
        else:
            network = build_network(layout, description["network_args"])
            network.load_state_dict(torch.load(folder / "weights.pt", weights_only=True))
            network.eval()
            model = cls(kind, layout, description["space_id"], network=network,
                        network_args=description["network_args"], summary=description["summary"])
        if model.model_id != description["model_id"]:
            raise ColdStartError(
                f"cold-start model in {folder} is corrupt: model.json records id "
                f"{description['model_id']!r} but the weights hash to {model.model_id!r}; retrain it"
            )
        return model


def build_network(layout: FeatureLayout, network_args: dict) -> ProjectionMLP:
    """Build the MLP for `layout` from the keyword arguments stored with the model."""
    return ProjectionMLP(
        input_dim=layout.input_dim,
        n_blocks=len(layout.blocks),
        space_block_indices=layout.space_blocks,
        output_dim=layout.space_dim,
        **network_args,
    )


def write_projections(frame: pd.DataFrame, path: str | Path, dim: int) -> Path:
    """Write projections to Parquet atomically, `vector` as a fixed-size list of float32."""
    path = Path(path)
    vectors = pa.array(
        [None if vector is None else np.asarray(vector, np.float32) for vector in frame["vector"]],
        type=pa.list_(pa.float32(), dim),
    )
    table = pa.table(
        {
            "track_id": pa.array(frame["track_id"].astype(str), pa.string()),
            "vector": vectors,
            "features_used": pa.array(frame["features_used"].astype(str), pa.string()),
            "model_id": pa.array(frame["model_id"].astype(str), pa.string()),
            "space_id": pa.array(frame["space_id"].astype(str), pa.string()),
            "projectable": pa.array(frame["projectable"].astype(bool), pa.bool_()),
            "reason": pa.array(frame["reason"].astype(str), pa.string()),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _write_text_atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.replace(temporary, path)
