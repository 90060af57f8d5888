"""Continuation split, metrics and baselines of the space evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from moodflow.space.cooccurrence import count_cooccurrence, playlists_from_lists
from moodflow.space.evaluation import (
    continuation_split,
    hit_metrics,
    rank_by_cooccurrence,
    rank_by_popularity,
)


def test_split_holds_out_last_track():
    playlists = playlists_from_lists([["a", "b", "c"], ["a", "b"], ["b", "c", "d", "e"]])
    split = continuation_split(playlists, fraction=1.0, min_tracks=3, seed=0)
    ids = playlists.track_ids
    assert [ids[target] for target in split.targets] == ["c", "e"]
    assert [list(ids[query]) for query in split.queries] == [["a", "b"], ["b", "c", "d"]]
    assert split.train.n_playlists == 3
    assert list(split.train.lengths) == [2, 2, 3]
    assert split.train.track_counts()[list(ids).index("e")] == 0


def test_hit_metrics_values():
    rankings = [np.array([5, 1, 2]), np.arange(100, 160), np.array([7])]
    targets = np.array([1, 111, 9])
    metrics = hit_metrics(rankings, targets)
    assert metrics["hr@10"] == pytest.approx(1 / 3)
    assert metrics["hr@50"] == pytest.approx(2 / 3)
    assert metrics["ndcg@50"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(13)) / 3)
    warm = hit_metrics(rankings, targets, np.array([True, False, False]))
    assert warm["hr@10"] == 1.0
    assert warm["n"] == 1


def test_baselines_rank_expected_tracks():
    playlists = playlists_from_lists([["a", "b"], ["a", "b"], ["a", "c"], ["d", "c"], ["d", "e"], ["d", "f"]])
    counts = count_cooccurrence(playlists, None, 100)
    query = [np.array([0])]  # "a"
    assert list(playlists.track_ids[rank_by_cooccurrence(counts, query)[0]]) == ["b", "c"]
    popular = rank_by_popularity(playlists.track_counts(), query, k=2)[0]
    assert list(playlists.track_ids[popular]) == ["d", "b"]
