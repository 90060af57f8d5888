"""Flow sessions on a generated catalogue with known tastes, moods and artists."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest

from moodflow.flow.cursor import CursorSessionMismatchError, InvalidCursorError, StaleCursorError
from moodflow.flow.engine import FlowEngine
from moodflow.flow.moods import MoodVocabulary, UnknownMoodError
from moodflow.flow.profile import HistoryEntry, taste_centres
from moodflow.flow.session import FlowConfig, FlowRequest, FlowRequestError, NoTracksForMoodError
from moodflow.flow.testing import cluster_of, make_catalogue

DAY = 86_400.0


@pytest.fixture(scope="module")
def vocabulary() -> MoodVocabulary:
    return MoodVocabulary.load()


@pytest.fixture(scope="module")
def catalogue(vocabulary):
    return make_catalogue(vocabulary)


@pytest.fixture()
def engine(catalogue):
    return FlowEngine(catalogue, FlowConfig(), secret=b"test-secret")


def two_taste_history(n=60):
    """Tracks of clusters 0 and 3, with play counts and play times spread over three years."""
    entries = []
    for i in range(n):
        index = 8 * (i // 2) + (0 if i % 2 == 0 else 3)
        entries.append(HistoryEntry(f"t{index:05d}", plays=1 + i % 9, last_played=1.7e9 - (i * 17 % 1000) * DAY))
    return tuple(entries)


def pages(engine, request, count):
    result, cursor = [], None
    for _ in range(count):
        page = engine.flow_page(request, cursor)
        result.append(page)
        cursor = page["next_cursor"]
    return result


def test_fifty_pages_without_repeats(engine):
    request = FlowRequest(history=two_taste_history(), seed=7)
    session_pages = pages(engine, request, 50)
    ids = [t["track_id"] for p in session_pages for t in p["tracks"]]
    assert len(ids) == 50 * 20
    assert len(set(ids)) == len(ids)
    assert all(len(p["tracks"]) == 20 for p in session_pages)


def test_artist_cap_respected(engine):
    request = FlowRequest(history=two_taste_history(), seed=3)
    for page in pages(engine, request, 30):
        counts = Counter(t["artist"] for t in page["tracks"])
        assert max(counts.values()) <= 2, counts.most_common(3)


def test_same_seed_same_session(catalogue):
    request = FlowRequest(history=two_taste_history(), seed=11)
    first = pages(FlowEngine(catalogue, FlowConfig(), b"a"), request, 5)
    second = pages(FlowEngine(catalogue, FlowConfig(), b"a"), request, 5)
    assert [t["track_id"] for p in first for t in p["tracks"]] == [t["track_id"] for p in second for t in p["tracks"]]
    other = pages(FlowEngine(catalogue, FlowConfig(), b"a"), FlowRequest(history=two_taste_history(), seed=12), 5)
    assert [t["track_id"] for p in first for t in p["tracks"]] != [t["track_id"] for p in other for t in p["tracks"]]


def test_page_is_idempotent(engine):
    request = FlowRequest(history=two_taste_history(), seed=1)
    first = engine.flow_page(request)
    again = engine.flow_page(request, engine.flow_page(request)["next_cursor"])
    repeat = engine.flow_page(request, first["next_cursor"])
    assert again == repeat


def test_mix_of_sources(catalogue):
    # History artists repeat, so lift the artist cap to see the configured shares exactly.
    engine = FlowEngine(catalogue, FlowConfig(artist_cap=20), b"s")
    page = engine.flow_page(FlowRequest(history=two_taste_history(), seed=2))
    sources = Counter(t["source"] for t in page["tracks"])
    # 25 % favourites, 15 % gems, 50 % discoveries, 10 % new releases of 20.
    assert sources == {"favourite": 5, "gem": 3, "discovery": 10, "new_release": 2}
    history_ids = {h.track_id for h in two_taste_history()}
    for track in page["tracks"]:
        if track["source"] in ("favourite", "gem"):
            assert track["track_id"] in history_ids
        else:
            assert track["track_id"] not in history_ids
            assert track["nearest_history_track"] in history_ids


def test_recent_plays_not_replayed(engine):
    history = two_taste_history()
    latest = max(h.last_played for h in history)
    recent = {h.track_id for h in history if latest - h.last_played < 14 * DAY}
    assert recent
    served = {t["track_id"] for p in pages(engine, FlowRequest(history=history), 10) for t in p["tracks"]}
    assert not recent & served


def test_two_tastes_give_two_centres(engine, catalogue):
    page = engine.flow_page(FlowRequest(history=two_taste_history(), seed=5))
    assert page["centres"] == 2
    discovered = [cluster_of(t["track_id"]) for t in page["tracks"] if t["source"] == "discovery"]
    # Discoveries come from both tastes, not from a cluster between them.
    assert set(discovered) == {0, 3}


def test_taste_centres_find_clusters(catalogue):
    rows = np.array([catalogue.row_of(h.track_id) for h in two_taste_history()])
    centres, weights, labels = taste_centres(catalogue.vectors[rows], np.ones(len(rows)), 4, 5, seed=0)
    assert len(centres) == 2
    assert weights.sum() == pytest.approx(1.0)
    clusters = np.array([cluster_of(h.track_id) for h in two_taste_history()])
    for label in (0, 1):
        assert len(set(clusters[labels == label])) == 1


def test_mood_filter_full_pages_on_small_subset(vocabulary):
    # 96 tracks in 8 clusters: only clusters 1 and 7 (energetic) pass the threshold, 24 tracks.
    small = make_catalogue(vocabulary, n_tracks=96, n_new_releases=0, tracks_per_artist=1)
    engine = FlowEngine(small, FlowConfig(page_size=10, shares={"discovery": 1.0}), b"s")
    request = FlowRequest(history=(HistoryEntry("t00000"),), mood="energetic")
    first, second = pages(engine, request, 2)
    for page in (first, second):
        assert len(page["tracks"]) == 10
        assert all(t["moods"]["energetic"] >= 0.5 for t in page["tracks"])
    third = engine.flow_page(request, second["next_cursor"])
    assert len(third["tracks"]) == 4
    assert third["exhausted"]
    assert "no more tracks with a 'energetic' score" in third["notes"][-1]
    assert third["next_cursor"] is None


def test_mood_rerank_prefers_mood(engine):
    plain = engine.flow_page(FlowRequest(history=two_taste_history(), seed=1))
    reranked = engine.flow_page(FlowRequest(history=two_taste_history(), seed=1, mood="chill", mood_mode="rerank"))
    mean = lambda page: np.mean([t["moods"]["chill"] for t in page["tracks"]])  # noqa: E731
    assert mean(reranked) > mean(plain)
    assert reranked["mood_mode"] == "rerank"


def test_mood_without_tracks_raises(engine):
    with pytest.raises(NoTracksForMoodError, match="highest is"):
        engine.flow_page(FlowRequest(history=two_taste_history(), mood="chill", threshold=0.99))


def test_unknown_mood_raises(engine):
    with pytest.raises(UnknownMoodError, match="'sleepy'"):
        engine.flow_page(FlowRequest(history=two_taste_history(), mood="sleepy"))


def test_empty_history_starts_from_popularity(engine, catalogue):
    page = engine.flow_page(FlowRequest())
    assert page["start"] == "popularity"
    assert "starts from the most popular tracks" in page["notes"][0]
    assert len(page["tracks"]) == 20
    popularity = [catalogue.popularity[catalogue.row_of(t["track_id"])] for t in page["tracks"] if not t["new_release"]]
    assert np.median(popularity) > np.quantile(catalogue.popularity[:2000], 0.9)


def test_empty_history_with_mood_starts_from_mood(engine):
    page = engine.flow_page(FlowRequest(mood="party"))
    assert page["start"] == "mood"
    assert all(t["moods"]["party"] >= 0.5 for t in page["tracks"])


def test_only_unknown_ids(engine):
    page = engine.flow_page(FlowRequest(history=(HistoryEntry("nope1"), HistoryEntry("nope2"))))
    assert page["start"] == "popularity"
    assert any("ignored 2 unknown track id(s): nope1, nope2" in note for note in page["notes"])
    assert any("no history track is in the catalogue" in note for note in page["notes"])
    assert len(page["tracks"]) == 20


def test_huge_history_capped(catalogue):
    engine = FlowEngine(catalogue, FlowConfig(max_history=100), b"s")
    history = tuple(HistoryEntry(f"t{i:05d}", last_played=float(i)) for i in range(1500))
    page = engine.flow_page(FlowRequest(history=history))
    assert any("capped to the 100 most recently" in note for note in page["notes"])
    assert len(page["tracks"]) == 20


def test_cursor_of_other_session_rejected(engine):
    first = engine.flow_page(FlowRequest(history=two_taste_history(), seed=1))
    with pytest.raises(CursorSessionMismatchError, match="belongs to session"):
        engine.flow_page(FlowRequest(history=two_taste_history(), seed=2), first["next_cursor"])


def test_stale_and_forged_cursors_rejected(engine, catalogue):
    request = FlowRequest(history=two_taste_history())
    cursor = engine.flow_page(request)["next_cursor"]
    stale_engine = FlowEngine(catalogue, FlowConfig(), b"test-secret")
    stale_engine.catalogue = make_catalogue(catalogue.vocabulary, seed=1)
    stale_engine.catalogue.space_id = "rebuiltspace0000"
    with pytest.raises(StaleCursorError, match="rebuiltspace0000"):
        stale_engine.flow_page(request, cursor)
    with pytest.raises(InvalidCursorError, match="signature"):
        FlowEngine(catalogue, FlowConfig(), b"other-secret").flow_page(request, cursor)
    with pytest.raises(InvalidCursorError, match="not a cursor"):
        engine.flow_page(request, "garbage")


def test_cursor_only_request_uses_stored_session(engine):
    request = FlowRequest(history=two_taste_history())
    first = engine.flow_page(request)
    second = engine.flow_page(None, first["next_cursor"])
    assert second["page"] == 1
    assert second == engine.flow_page(request, first["next_cursor"])
    fresh = FlowEngine(engine.catalogue, engine.config, engine.secret)
    with pytest.raises(StaleCursorError, match="expired"):
        fresh.flow_page(None, first["next_cursor"])


def test_invalid_request_values(engine):
    with pytest.raises(FlowRequestError, match="page_size 500"):
        engine.flow_page(FlowRequest(page_size=500))
    with pytest.raises(FlowRequestError, match="'shuffle'"):
        engine.flow_page(FlowRequest(mood="chill", mood_mode="shuffle"))


def test_concurrent_requests_same_session(catalogue):
    engine = FlowEngine(catalogue, FlowConfig(), b"s")
    request = FlowRequest(history=two_taste_history(), seed=9)
    cursor = engine.flow_page(request)["next_cursor"]
    results, errors = [], []

    def fetch():
        try:
            results.append(engine.flow_page(request, cursor))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 8
    assert all(r == results[0] for r in results)


def test_new_releases_for_listener(engine):
    result = engine.new_releases(FlowRequest(history=two_taste_history()), k=5)
    releases = result["releases"]
    assert len(releases) == 5
    assert all(r["new_release"] for r in releases)
    assert {cluster_of(r["track_id"]) for r in releases} <= {0, 3}
    moody = engine.new_releases(FlowRequest(history=two_taste_history(), mood="chill"), k=50)["releases"]
    assert moody
    assert all(r["moods"]["chill"] >= 0.5 for r in moody)


def test_cooccurrence_boost_promotes_partner(vocabulary):
    # t01000 is one of many cluster-0 neighbours of a cluster-0 history; it co-occurs with it.
    catalogue = make_catalogue(vocabulary)
    catalogue.cooccurrence = lambda history: {"t01000": 10.0}
    history = tuple(HistoryEntry(f"t{i:05d}") for i in range(0, 80, 8))
    boosted = FlowEngine(catalogue, FlowConfig(shares={"discovery": 1.0}, cooccurrence_weight=1.0), b"s")
    page = boosted.flow_page(FlowRequest(history=history))
    assert page["tracks"][0]["track_id"] == "t01000"
    assert page["tracks"][0]["score"] > 1.5
    unboosted = FlowEngine(catalogue, FlowConfig(shares={"discovery": 1.0}, cooccurrence_weight=0.0), b"s")
    plain = unboosted.flow_page(FlowRequest(history=history))
    assert plain["tracks"][0]["track_id"] != "t01000"
