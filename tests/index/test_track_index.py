"""One behaviour suite run against every index kind, plus files and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from moodflow.errors import SpaceMismatchError
from moodflow.index import KINDS, IndexBuildError, TrackIndex
from moodflow.space import MusicSpace, UnknownTrackError

DIM = 16
N_CLUSTERS = 20
PER_CLUSTER = 100


@pytest.fixture(scope="module")
def clustered_space() -> MusicSpace:
    """2,000 unit vectors in 20 tight clusters; ids `c{cluster}-{member}`."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(N_CLUSTERS, DIM))
    vectors = np.repeat(centres, PER_CLUSTER, axis=0) + 0.15 * rng.normal(size=(N_CLUSTERS * PER_CLUSTER, DIM))
    ids = [f"c{cluster}-{member}" for cluster in range(N_CLUSTERS) for member in range(PER_CLUSTER)]
    return MusicSpace.from_vectors(ids, vectors)


@pytest.fixture(scope="module")
def exact(clustered_space) -> TrackIndex:
    return TrackIndex.build(clustered_space, "flat")


@pytest.fixture(scope="module", params=KINDS)
def index(request, clustered_space) -> TrackIndex:
    return TrackIndex.build(clustered_space, request.param)


def ids_of(page):
    return [track_id for track_id, _ in page]


def test_same_neighbours_as_exact(index, exact, clustered_space):
    queries = clustered_space.vectors[::50]
    approximate = index.search(queries, 10)
    truth = exact.search(queries, 10)
    recall = np.mean([len(set(ids_of(a)) & set(ids_of(t))) / 10 for a, t in zip(approximate, truth)])
    assert recall >= 0.95


def test_neighbours_in_same_cluster(index):
    page = index.neighbours("c3-5", 10)
    assert len(page) == 10
    assert all(track_id.startswith("c3-") for track_id in ids_of(page))
    assert "c3-5" not in ids_of(page)


def test_scores_sorted_descending(index, clustered_space):
    page = index.search(clustered_space.vectors[:1], 20)[0]
    scores = [score for _, score in page]
    assert scores == sorted(scores, reverse=True)


def test_batch_equals_single_query(index, clustered_space):
    queries = clustered_space.vectors[[0, 333, 1999]]
    batch = index.search(queries, 5)
    for row, query in enumerate(queries):
        single = index.search(query[None, :], 5)[0]
        assert ids_of(single) == ids_of(batch[row])


def test_exclusions_respected(index, exact, clustered_space):
    query = clustered_space.vectors[:1]
    top = ids_of(exact.search(query, 5)[0])
    page = index.search(query, 10, exclude=set(top))[0]
    assert len(page) == 10
    assert not set(top) & set(ids_of(page))


def test_per_query_exclusions(index, clustered_space):
    queries = clustered_space.vectors[[0, 100]]
    pages = index.search(queries, 3, exclude=[["c0-0"], ["c1-0"]])
    assert "c0-0" not in ids_of(pages[0])
    assert "c1-0" not in ids_of(pages[1])
    assert len(pages[0]) == 3


def test_k_larger_than_index(index, clustered_space):
    page = index.search(clustered_space.vectors[:1], 5000)[0]
    assert len(page) == len(clustered_space)
    assert len(set(ids_of(page))) == len(clustered_space)
    excluded = index.search(clustered_space.vectors[:1], 5000, exclude={"c0-0", "c0-1"})[0]
    assert len(excluded) == len(clustered_space) - 2


def test_allowed_subset_small(index, clustered_space):
    allowed = {f"c{cluster}-0" for cluster in range(N_CLUSTERS)}
    page = index.search(clustered_space.vectors[:1], 10, allowed=allowed)[0]
    assert len(page) == 10
    assert set(ids_of(page)) <= allowed
    assert ids_of(page)[0] == "c0-0"


def test_allowed_subset_filtered_full_pages(index, clustered_space, monkeypatch):
    monkeypatch.setattr("moodflow.index.track_index.EXACT_SUBSET_MAX", 0)
    allowed = {f"c{cluster}-{member}" for cluster in range(N_CLUSTERS) for member in range(0, PER_CLUSTER, 3)}
    pages = index.search(clustered_space.vectors[[5, 705]], 12, allowed=allowed, exclude={"c0-0"})
    for page in pages:
        assert len(page) == 12
        assert set(ids_of(page)) <= allowed
        assert "c0-0" not in ids_of(page)
    assert all(track_id.startswith("c7-") for track_id in ids_of(pages[1]))


def test_search_history_excludes_history(index):
    page = index.search_history({"c4-1": 3, "c4-2": 1}, 5)
    assert len(page) == 5
    assert all(track_id.startswith("c4-") for track_id in ids_of(page))
    assert not {"c4-1", "c4-2"} & set(ids_of(page))


def test_extra_rows_flagged(clustered_space):
    extra_vectors = np.stack([clustered_space.vector("c2-0"), np.full(DIM, np.nan), np.zeros(DIM)])
    index = TrackIndex.build(clustered_space, "flat", extra_ids=["new-1", "new-nan", "new-zero"], extra_vectors=extra_vectors)
    assert index.is_extra("new-1")
    assert not index.is_extra("c2-0")
    assert index.skipped_ids == ["new-nan", "new-zero"]
    assert "new-nan" not in index
    assert ids_of(index.neighbours("c2-0", 1)) == ["new-1"]
    with pytest.raises(UnknownTrackError, match="NaN"):
        index.neighbours("new-nan", 3)


def test_extra_ids_clashing_rejected(clustered_space):
    with pytest.raises(IndexBuildError, match="c0-0"):
        TrackIndex.build(clustered_space, "flat", extra_ids=["c0-0"], extra_vectors=np.ones((1, DIM)))


def test_unknown_kind_and_params_rejected(clustered_space):
    with pytest.raises(IndexBuildError, match="unknown index kind 'lsh'"):
        TrackIndex.build(clustered_space, "lsh")
    with pytest.raises(IndexBuildError, match="nprob"):
        TrackIndex.build(clustered_space, "ivf_flat", nprob=3)


def test_unknown_track_query(exact):
    with pytest.raises(UnknownTrackError, match="not in the index"):
        exact.neighbours("no-such-track", 5)


def test_nan_query_rejected(exact):
    with pytest.raises(Exception, match="NaN"):
        exact.search(np.full((1, DIM), np.nan), 3)


@pytest.mark.parametrize("kind", KINDS)
def test_index_roundtrip(tmp_path, clustered_space, kind):
    extra = clustered_space.vectors[:2] * -1
    index = TrackIndex.build(clustered_space, kind, extra_ids=["x1", "x2"], extra_vectors=extra)
    index.save(tmp_path / "index")
    loaded = TrackIndex.load(tmp_path / "index", clustered_space)
    queries = clustered_space.vectors[:4]
    assert [ids_of(p) for p in loaded.search(queries, 7)] == [ids_of(p) for p in index.search(queries, 7)]
    assert loaded.is_extra("x2")
    assert loaded.params == index.params


def test_load_other_space_rejected(tmp_path, clustered_space):
    TrackIndex.build(clustered_space, "flat").save(tmp_path / "index")
    other = MusicSpace.from_vectors(["a", "b"], np.eye(2, DIM))
    with pytest.raises(SpaceMismatchError) as raised:
        TrackIndex.load(tmp_path / "index", other)
    assert clustered_space.space_id in str(raised.value)
    assert other.space_id in str(raised.value)


def test_cli_build_and_query(tmp_path, clustered_space, capsys):
    from moodflow.index.cli import main

    clustered_space.save(tmp_path / "space")
    assert main(["build", "--space", str(tmp_path / "space"), "kind=ivf_flat", "params.ivf_flat.nprobe=8"]) == 0
    assert main(["query", "--space", str(tmp_path / "space"), "--index", str(tmp_path / "space" / "index-ivf_flat"),
                 "--track", "c1-1", "-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[-3:]
    assert all(line.startswith("c1-") for line in lines)


def test_rerank_prefers_cooccurring_track():
    from moodflow.index import CooccurrenceRerank
    from moodflow.space import SpaceConfig, build_space

    rng = np.random.default_rng(3)
    playlists = [[f"g{group}-{member}" for member in rng.choice(20, size=5, replace=False)]
                 for group in range(3) for _ in range(150)]
    playlists += [["g0-1", "g0-2", "g0-3"]] * 40
    space = build_space(playlists, SpaceConfig(dim=6))
    index = TrackIndex.build(space, "flat")
    page = index.search_history(["g0-1", "g0-2"], 5, rerank=CooccurrenceRerank(candidates=3, weight=5.0))
    assert ids_of(page)[0] == "g0-3"
    assert len(page) == 5
    assert not {"g0-1", "g0-2"} & set(ids_of(page))
    assert all(track_id.startswith("g0-") for track_id in ids_of(page))
    scores = [score for _, score in page]
    assert scores == sorted(scores, reverse=True)
    restricted = index.search_history(["g0-1", "g0-2"], 5, allowed={"g0-3", "g1-1"}, rerank=CooccurrenceRerank())
    assert set(ids_of(restricted)) <= {"g0-3", "g1-1"}


def test_cooccurrence_row_normalised():
    from moodflow.space import SpaceConfig, build_space

    space = build_space([["a", "b"], ["a", "b"], ["a", "c"], ["c", "d"], ["c", "e"]], SpaceConfig(dim=2))
    raw = space.cooccurrence_scores(["a"])
    assert raw == {"b": 2.0, "c": 1.0}
    columns, values = space.cooccurrence_row(["a"], normalise=True)
    normalised = dict(zip(space.context_track_ids[columns], values))
    assert normalised["b"] == pytest.approx(2 / np.sqrt(3 * 2))
    assert normalised["c"] == pytest.approx(1 / np.sqrt(3 * 3))
