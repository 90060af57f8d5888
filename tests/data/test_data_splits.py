"""Artist-grouped splits: no group on two sides, genres balanced, seeds reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moodflow.data import fold_of_rows, group_kfold, train_val_test_split

GENRES = ("classical", "rock", "electronic", "pop")


def make_manifest(n_artists=40, seed=0) -> pd.DataFrame:
    """Artists listed in genre order with 1 to 9 tracks each, like a sorted real catalogue."""
    rng = np.random.default_rng(seed)
    rows = []
    for artist in range(n_artists):
        genre = GENRES[artist * len(GENRES) // n_artists]
        for track in range(int(rng.integers(1, 10))):
            rows.append({"track_id": f"a{artist}-t{track}", "group": f"artist{artist:03d}", "genre": genre})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("stratify_column", ["genre", None])
def test_kfold_keeps_artists_together(stratify_column):
    manifest = make_manifest()

    folds = group_kfold(manifest, n_splits=5, seed=1, stratify_column=stratify_column)

    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(manifest)))
    for train, test in folds:
        assert set(manifest["group"].iloc[train]).isdisjoint(manifest["group"].iloc[test])
        assert len(train) + len(test) == len(manifest)


def test_kfold_balances_genres():
    manifest = make_manifest()

    folds = group_kfold(manifest, n_splits=4, seed=0)

    for _, test in folds:
        assert set(manifest["genre"].iloc[test]) == set(GENRES)


def test_kfold_seed_changes_folds():
    manifest = make_manifest()

    same = fold_of_rows(manifest, 5, seed=3)

    np.testing.assert_array_equal(same, fold_of_rows(manifest, 5, seed=3))
    assert not np.array_equal(same, fold_of_rows(manifest, 5, seed=4))
    assert same.min() == 0
    assert same.max() == 4


def test_kfold_needs_enough_groups():
    manifest = make_manifest(n_artists=3)

    with pytest.raises(ValueError, match="number of groups"):
        group_kfold(manifest, n_splits=5)


def test_train_val_test_disjoint_groups():
    manifest = make_manifest(n_artists=80)

    split = train_val_test_split(manifest, val_fraction=0.15, test_fraction=0.15, seed=2)

    sides = [set(manifest["group"].iloc[rows]) for rows in (split.train, split.val, split.test)]
    assert sides[0].isdisjoint(sides[1])
    assert sides[0].isdisjoint(sides[2])
    assert sides[1].isdisjoint(sides[2])
    assert len(split.train) + len(split.val) + len(split.test) == len(manifest)
    assert 0.08 < len(split.test) / len(manifest) < 0.22
    assert 0.08 < len(split.val) / len(manifest) < 0.22
    assert set(manifest["genre"].iloc[split.test]) == set(GENRES)


def test_train_val_test_is_reproducible():
    manifest = make_manifest(n_artists=60)

    first = train_val_test_split(manifest, seed=5)
    second = train_val_test_split(manifest, seed=5)

    np.testing.assert_array_equal(first.test, second.test)
    np.testing.assert_array_equal(first.val, second.val)


def test_train_val_test_rejects_bad_fractions():
    with pytest.raises(ValueError, match="sum below 1"):
        train_val_test_split(make_manifest(), val_fraction=0.5, test_fraction=0.5)
