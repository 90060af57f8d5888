"""Positive pointwise mutual information over playlist co-occurrence.

For a target track i and a context track j,

    PPMI(i, j) = max(0, log(N · c_ij / (c_i · ĉ_j)) - shift)

where N is the number of playlists, c_ij the number of playlists in which i
and j co-occur, c_i the number containing i, and ĉ_j the smoothed context
count c_j^s · (Σ_k c_k / Σ_k c_k^s) with smoothing exponent s. With s = 1 and
shift = 0 this is the plain PPMI; s < 1 raises the weight of rare contexts
(context-distribution smoothing, Levy, Goldberg and Dagan, TACL 2015).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def smoothed_context_counts(track_counts: np.ndarray, smoothing: float) -> np.ndarray:
    """Return ĉ_j = c_j^s · Σc / Σc^s; the rescaling keeps Σĉ = Σc."""
    counts = track_counts.astype(np.float64)
    if smoothing == 1.0:
        return counts
    powered = counts**smoothing
    return powered * (counts.sum() / powered.sum())


def ppmi_matrix(
    counts: sp.csr_matrix,
    track_counts: np.ndarray,
    context_counts: np.ndarray,
    n_playlists: int,
    shift: float,
) -> sp.csr_matrix:
    """Return the PPMI matrix (float64 CSR) of a co-occurrence matrix.

    Rows are target tracks and columns context tracks, both aligned with
    `track_counts` and `context_counts`. Entries that are not positive are
    removed, so a row may end up empty.
    """
    coo = counts.tocoo()
    pmi = (
        np.log(float(n_playlists))
        + np.log(coo.data.astype(np.float64))
        - np.log(track_counts[coo.row].astype(np.float64))
        - np.log(context_counts[coo.col])
        - shift
    )
    positive = pmi > 0
    matrix = sp.csr_matrix(
        (pmi[positive], (coo.row[positive], coo.col[positive])), shape=counts.shape
    )
    matrix.sort_indices()
    return matrix


def ppmi_row(
    partner_counts: np.ndarray,
    partner_context_counts: np.ndarray,
    own_count: int,
    n_playlists: int,
    shift: float,
) -> np.ndarray:
    """Return the PPMI weights of one target track against its partners.

    `partner_counts[k]` is c_tj for partner k, `partner_context_counts[k]` its
    ĉ_j, and `own_count` is c_t. Weights that are not positive come out as 0.
    """
    pmi = (
        np.log(float(n_playlists))
        + np.log(partner_counts.astype(np.float64))
        - np.log(float(own_count))
        - np.log(partner_context_counts)
        - shift
    )
    return np.maximum(pmi, 0.0)
