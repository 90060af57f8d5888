"""Projection networks from content features to unit space vectors.

Both models read the same encoded input: the standardised feature blocks,
zero where a block is absent, followed by one presence bit per block
(`x [n, input_dim]`, `mask [n, n_blocks]`). Blocks that already live in the
music space (artist mean, usage fold-in) are also passed unchanged as
`space_inputs [n, n_space_blocks, dim]`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class ProjectionMLP(nn.Module):
    """A small MLP with a residual path from the space-valued blocks.

    `output = normalize(mlp([x, mask]) + sum_b a_b * mask_b * space_input_b)`,
    with one learnt scalar `a_b` per space-valued block initialised to 1, so
    an untrained network already returns the artist mean or the fold-in
    vector and training learns corrections to them.
    """

    def __init__(
        self,
        input_dim: int,
        n_blocks: int,
        space_block_indices: Sequence[int],
        output_dim: int,
        hidden_dims: Sequence[int] = (256, 256),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim + n_blocks
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, output_dim))
        self.mlp = nn.Sequential(*layers)
        self.register_buffer("space_block_indices", torch.as_tensor(list(space_block_indices), dtype=torch.long))
        self.residual_weights = nn.Parameter(torch.ones(len(space_block_indices)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, space_inputs: torch.Tensor) -> torch.Tensor:
        """Return unit vectors `[n, output_dim]`."""
        output = self.mlp(torch.cat([x, mask], dim=1))
        if self.space_block_indices.numel():
            gates = mask[:, self.space_block_indices] * self.residual_weights
            output = output + (gates.unsqueeze(-1) * space_inputs).sum(dim=1)
        return nn.functional.normalize(output, dim=1, eps=1e-8)


class RidgeProjection:
    """Closed-form ridge regression `W = (X^T X + alpha I)^-1 X^T Y` on `[x, mask, 1]`.

    The presence bits act as per-block intercepts. Predictions are
    L2-normalised like the MLP's.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        if not alpha > 0:
            raise ValueError(f"ridge alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)
        self.weights: np.ndarray | None = None

    @staticmethod
    def _design(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        ones = np.ones((len(x), 1), dtype=np.float64)
        return np.hstack([x.astype(np.float64), mask.astype(np.float64), ones])

    def fit(self, x: np.ndarray, mask: np.ndarray, targets: np.ndarray) -> RidgeProjection:
        design = self._design(x, mask)
        gram = design.T @ design
        gram[np.diag_indices_from(gram)] += self.alpha
        self.weights = np.linalg.solve(gram, design.T @ targets.astype(np.float64)).astype(np.float32)
        return self

    def predict(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("RidgeProjection.predict called before fit")
        output = self._design(x, mask).astype(np.float32) @ self.weights
        norms = np.linalg.norm(output, axis=1, keepdims=True)
        return output / np.maximum(norms, 1e-8)
