"""Artist-grouped fold assignment shared by training and cross-validation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import GroupKFold


def assign_group_folds(groups: Sequence[str], n_folds: int, seed: int = 0) -> np.ndarray:
    """Return the fold number of each row, so that all rows of a group share one fold.

    Uses scikit-learn's `GroupKFold`, which balances fold sizes; `seed`
    shuffles groups first (seed 0 keeps scikit-learn's order).
    """
    groups = np.asarray([str(group) for group in groups])
    unique = np.unique(groups)
    if len(unique) < n_folds:
        raise ValueError(f"{len(unique)} groups cannot fill {n_folds} folds; lower n_folds")
    if seed:
        relabel = dict(zip(unique, np.random.default_rng(seed).permutation(len(unique))))
        groups = np.array([f"{relabel[group]:08d}" for group in groups])
    folds = np.empty(len(groups), dtype=np.int64)
    for fold, (_, held_out) in enumerate(GroupKFold(n_splits=n_folds).split(groups, groups=groups)):
        folds[held_out] = fold
    return folds
