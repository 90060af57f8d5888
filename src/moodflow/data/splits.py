"""Splits of a manifest that keep every group (artist) on one side.

Tracks by one artist share production, voice and style, so a model tested on
an artist it trained on scores higher than it will on new artists. Every split
here assigns whole groups. Both functions also balance genres across folds
(stratification by each group's most common genre), because a plain
`GroupKFold` over groups listed in genre order can hold out a whole genre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold


@dataclass(frozen=True)
class Split:
    """Row positions of a manifest in the training, validation and test sets."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def group_kfold(
    manifest: pd.DataFrame,
    n_splits: int = 5,
    seed: int = 0,
    *,
    group_column: str = "group",
    stratify_column: str | None = "genre",
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return `n_splits` (train, test) pairs of row positions with no group on both sides.

    Groups are shuffled with `seed`. With `stratify_column` present in the
    manifest, scikit-learn's `StratifiedGroupKFold` keeps that column's class
    proportions similar in every fold. Raises `ValueError` when there are
    fewer groups than folds.
    """
    groups = _group_codes(manifest, group_column)
    n_groups = len(np.unique(groups))
    if n_splits < 2 or n_groups < n_splits:
        raise ValueError(f"need 2 <= n_splits <= number of groups ({n_groups}), got n_splits={n_splits}")

    positions = np.arange(len(manifest))
    if stratify_column is not None and stratify_column in manifest.columns:
        labels = manifest[stratify_column].astype(str).to_numpy()
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        folds = splitter.split(positions, labels, groups=groups)
    else:
        # GroupKFold has no shuffle in older scikit-learn, so group ids are permuted instead.
        permutation = np.random.default_rng(seed).permutation(n_groups)
        folds = GroupKFold(n_splits=n_splits).split(positions, groups=permutation[groups])
    return [(np.sort(train), np.sort(test)) for train, test in folds]


def fold_of_rows(manifest: pd.DataFrame, n_splits: int = 5, seed: int = 0, **kwargs) -> np.ndarray:
    """Return the test fold number of every row (the inverse view of `group_kfold`)."""
    folds = np.full(len(manifest), -1, dtype=np.int64)
    for fold, (_, test) in enumerate(group_kfold(manifest, n_splits, seed, **kwargs)):
        folds[test] = fold
    return folds


def train_val_test_split(
    manifest: pd.DataFrame,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    *,
    group_column: str = "group",
    stratify_column: str | None = "genre",
) -> Split:
    """Split rows into training, validation and test sets of whole groups.

    Within each stratum (the most common `stratify_column` value of a group),
    groups are shuffled with `seed`. Each group in turn joins the test set when
    at least half of it fits under `test_fraction` of the stratum's rows, else
    the validation set under the same rule for `val_fraction`, else the
    training set. Fractions are approximate because groups are indivisible.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction and test_fraction must be >= 0 with a sum below 1, got {val_fraction} and {test_fraction}"
        )
    groups = _group_codes(manifest, group_column)
    rng = np.random.default_rng(seed)
    strata = _group_strata(manifest, groups, stratify_column)

    assignment = np.zeros(groups.max() + 1, dtype=np.int64)  # 0 train, 1 validation, 2 test
    sizes = np.bincount(groups)
    for stratum in sorted(set(strata)):
        members = rng.permutation([group for group, value in enumerate(strata) if value == stratum])
        total = sizes[members].sum()
        targets = {2: test_fraction * total, 1: val_fraction * total}
        taken = {2: 0, 1: 0}
        for group in members:
            # A group joins a held-out set when at least half of it fits under the target.
            for side in (2, 1):
                if taken[side] + sizes[group] / 2 <= targets[side]:
                    assignment[group] = side
                    taken[side] += sizes[group]
                    break

    row_assignment = assignment[groups]
    return Split(
        train=np.flatnonzero(row_assignment == 0),
        val=np.flatnonzero(row_assignment == 1),
        test=np.flatnonzero(row_assignment == 2),
    )


def _group_codes(manifest: pd.DataFrame, group_column: str) -> np.ndarray:
    if group_column not in manifest.columns:
        raise ValueError(f"manifest has no column {group_column!r}; found {list(manifest.columns)}")
    codes, _ = pd.factorize(manifest[group_column].astype(str), sort=True)
    return codes


def _group_strata(manifest: pd.DataFrame, groups: np.ndarray, stratify_column: str | None) -> list[str]:
    """Return each group's most common `stratify_column` value, or one stratum for all."""
    n_groups = groups.max() + 1
    if stratify_column is None or stratify_column not in manifest.columns:
        return [""] * n_groups
    frame = pd.DataFrame({"group": groups, "label": manifest[stratify_column].astype(str).to_numpy()})
    most_common = frame.groupby("group")["label"].agg(lambda labels: labels.value_counts().index[0])
    return [most_common[group] for group in range(n_groups)]
