"""`moodflow flow moods` and `moodflow flow page` on a small generated space, and the page plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moodflow.cli import main as moodflow_main
from moodflow.errors import SpaceMismatchError
from moodflow.flow.engine import FlowEngine
from moodflow.flow.moods import MoodVocabulary
from moodflow.flow.plots import plot_flow_mood_page
from moodflow.flow.profile import HistoryEntry
from moodflow.flow.session import FlowConfig, FlowRequest
from moodflow.flow.testing import make_catalogue
from moodflow.service.loading import build_engine, load_settings


def _playlists(n_playlists=400, n_groups=4, tracks_per_group=30, seed=0) -> pd.DataFrame:
    """Playlists that each draw 6 tracks from one of `n_groups` disjoint groups."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_playlists):
        group = p % n_groups
        tracks = rng.choice(tracks_per_group, size=6, replace=False) + group * tracks_per_group
        category = ["Depression", "Sleep", "Dance-House", "Theme"][group]
        rows += [{"playlist_id": f"p{p}", "category": category, "position": i, "song_id": f"s{t:03d}"} for i, t in enumerate(tracks)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    from moodflow.space import SpaceConfig, build_space

    folder = tmp_path_factory.mktemp("flow-cli")
    playlists = _playlists()
    playlists.to_csv(folder / "playlists.csv", index=False)
    metadata = pd.DataFrame({"track_id": [f"s{t:03d}" for t in range(120)],
                             "artist": [f"artist {t // 5}" for t in range(120)],
                             "title": [f"Title {t}" for t in range(120)]})
    metadata.to_csv(folder / "metadata.csv", index=False)
    space = build_space(playlists.rename(columns={"song_id": "track_id"}), SpaceConfig(dim=8), metadata[["track_id", "artist"]])
    space.save(folder / "space")
    labels = pd.DataFrame({"MSD_sng_id": ["s000", "s031", "s062"], "valence": [-1.2, 0.4, 1.0], "arousal": [-0.8, -1.0, 0.9]})
    labels.to_csv(folder / "labels.csv", index=False)
    return folder, space


def test_moods_command_writes_table(artifacts, capsys):
    folder, space = artifacts
    status = moodflow_main([
        "flow", "moods", "--space", str(folder / "space"), "--out", str(folder / "moods.parquet"),
        "--valence-arousal", str(folder / "labels.csv"), "--va-id-column", "MSD_sng_id",
        "--playlists", str(folder / "playlists.csv"),
    ])
    assert status == 0
    table = pd.read_parquet(folder / "moods.parquet")
    assert len(table) == len(space.track_ids)
    assert (table["space_id"] == space.space_id).all()
    source = dict(zip(table["track_id"], table["source"]))
    assert source["s000"] == "valence_arousal"
    assert source["s001"] == "playlist_category"
    by_track = table.set_index("track_id")
    # Group 0 playlists are all Depression: melancholy 1.0, tender 0.2.
    assert by_track.loc["s001", "mood_melancholy"] == pytest.approx(1.0)
    assert by_track.loc["s001", "mood_tender"] == pytest.approx(0.2)
    assert "wrote" in capsys.readouterr().out


def test_page_command_prints_table(artifacts, capsys, tmp_path):
    folder, _ = artifacts
    if not (folder / "moods.parquet").exists():
        pytest.skip("needs the mood table of test_moods_command_writes_table")
    status = moodflow_main([
        "flow", "page", "--space", str(folder / "space"), "--moods", str(folder / "moods.parquet"),
        "--metadata", str(folder / "metadata.csv"), "--tracks", "s000,s001,s002,nope", "--pages", "2",
        "--page-size", "10", "--plot", str(tmp_path / "page.png"),
    ])
    output = capsys.readouterr().out
    assert status == 0
    assert "title" in output
    assert "reason" in output
    assert "note: ignored 1 unknown track id(s): nope" in output
    assert output.count("session ") == 2
    assert "nearest history" in output
    discovery_lines = [line for line in output.splitlines() if " discovery " in line]
    assert discovery_lines
    assert all(" s00" in line for line in discovery_lines)
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_page_command_unknown_mood_exit_code(artifacts, capsys):
    folder, _ = artifacts
    if not (folder / "moods.parquet").exists():
        pytest.skip("needs the mood table of test_moods_command_writes_table")
    status = moodflow_main([
        "flow", "page", "--space", str(folder / "space"), "--moods", str(folder / "moods.parquet"),
        "--tracks", "s000", "--mood", "grumpy",
    ])
    assert status == 1
    assert "unknown mood 'grumpy'" in capsys.readouterr().err


def test_service_start_checks_space_ids(artifacts, tmp_path):
    folder, space = artifacts
    if not (folder / "moods.parquet").exists():
        pytest.skip("needs the mood table of test_moods_command_writes_table")
    engine, listeners = build_engine(load_settings(overrides=[f"space={folder / 'space'}", f"moods={folder / 'moods.parquet'}"]))
    assert engine.catalogue.space_id == space.space_id
    assert listeners == {}

    other = pd.read_parquet(folder / "moods.parquet").assign(space_id="0123456789abcdef")
    other.to_parquet(tmp_path / "other.parquet")
    with pytest.raises(SpaceMismatchError, match="0123456789abcdef"):
        build_engine(load_settings(overrides=[f"space={folder / 'space'}", f"moods={tmp_path / 'other.parquet'}"]))


def test_plot_flow_mood_page(tmp_path):
    vocabulary = MoodVocabulary.load()
    engine = FlowEngine(make_catalogue(vocabulary), FlowConfig(), b"plot")
    page = engine.flow_page(FlowRequest(history=tuple(), mood="chill"))
    path = plot_flow_mood_page(page, vocabulary.moods, tmp_path / "mood.png")
    assert path.stat().st_size > 10_000
    with pytest.raises(ValueError, match="empty"):
        plot_flow_mood_page({**page, "tracks": []}, vocabulary.moods, tmp_path / "empty.png")


def test_pages_through_track_index(artifacts):
    from moodflow.flow.catalogue import load_catalogue
    from moodflow.index import TrackIndex

    folder, space = artifacts
    if not (folder / "moods.parquet").exists():
        pytest.skip("needs the mood table of test_moods_command_writes_table")
    TrackIndex.build(space, "hnsw").save(folder / "index")
    vocabulary = MoodVocabulary.load()
    catalogue = load_catalogue(folder / "space", folder / "moods.parquet", vocabulary, index_folder=folder / "index")
    assert catalogue.index is not None
    engine = FlowEngine(catalogue, FlowConfig(page_size=10, artist_cap=3), b"index")
    request = FlowRequest(history=(HistoryEntry("s000", 3), HistoryEntry("s001", 1)), seed=2)

    served, cursor = [], None
    for _ in range(8):
        page = engine.flow_page(request, cursor)
        served += [t["track_id"] for t in page["tracks"]]
        cursor = page["next_cursor"]
    assert len(served) == len(set(served))
    assert len(served) == 80

    melancholy = engine.flow_page(FlowRequest(history=request.history, mood="melancholy"))
    assert len(melancholy["tracks"]) == 10
    assert all(t["moods"]["melancholy"] >= 0.5 for t in melancholy["tracks"])
