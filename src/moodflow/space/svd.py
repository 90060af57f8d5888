"""Truncated SVD of the PPMI matrix with a deterministic sign per component."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

logger = logging.getLogger(__name__)

# Matrices with at most this many cells are decomposed exactly with LAPACK,
# which is faster than the randomized method at that size and has no
# sampling error.
DENSE_SVD_MAX_CELLS = 4_000_000

# Singular values below this fraction of the largest are numerical noise;
# their components would only add arbitrary directions.
RELATIVE_RANK_TOLERANCE = 1e-6


class DimensionCappedWarning(UserWarning):
    """The requested number of dimensions exceeds what the data allows."""


def truncated_svd(
    matrix: sp.csr_matrix, dim: int, n_iter: int, oversamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return U [rows, k], s [k], Vt [k, cols] with k <= `dim`.

    k is capped at the numerical rank of `matrix` with a
    `DimensionCappedWarning`. Each component's sign is chosen so that the
    entry of U with the largest magnitude is positive, so two runs on the same
    input give the same factors.
    """
    max_dim = min(matrix.shape)
    if max_dim == 0:
        return np.zeros((matrix.shape[0], 0)), np.zeros(0), np.zeros((0, matrix.shape[1]))

    if matrix.shape[0] * matrix.shape[1] <= DENSE_SVD_MAX_CELLS:
        u, s, vt = np.linalg.svd(matrix.toarray(), full_matrices=False)
        u, s, vt = u[:, :dim], s[:dim], vt[:dim]
    else:
        k = min(dim, max_dim - 1)
        u, s, vt = randomized_svd(
            matrix, n_components=k, n_oversamples=oversamples, n_iter=n_iter,
            random_state=seed, flip_sign=False,
        )

    rank = int(np.sum(s > RELATIVE_RANK_TOLERANCE * (s[0] if len(s) else 0.0)))
    if rank < dim:
        message = (
            f"requested dim={dim} but the PPMI matrix ({matrix.shape[0]} x {matrix.shape[1]}) "
            f"supports only {rank}; using dim={rank}"
        )
        logger.warning(message)
        warnings.warn(message, DimensionCappedWarning, stacklevel=3)
    u, s, vt = u[:, :rank], s[:rank], vt[:rank]

    largest = np.argmax(np.abs(u), axis=0)
    signs = np.sign(u[largest, np.arange(u.shape[1])])
    signs[signs == 0] = 1.0
    return u * signs, s, vt * signs[:, None]
