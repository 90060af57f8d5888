"""End-to-end run of the demo at its tiny size, inside the test process."""

from __future__ import annotations

import pandas as pd

from moodflow.demo import run_demo


def test_demo_tiny_end_to_end(tmp_path):
    result = run_demo(tmp_path / "demo", size_name="tiny", quiet=True, in_process=True)
    out = result.out_dir

    step_names = [step.name for step in result.timings]
    assert step_names[0] == "generate data"
    assert step_names[-1] == "music map"
    assert (out / "models" / "demo-tagger" / "bundle.json").is_file()
    assert (out / "space").is_dir()
    assert (out / "index").is_dir()

    projections = pd.read_parquet(out / "projections.parquet")
    assert len(projections) == 4
    assert projections["projectable"].all()

    moods = pd.read_parquet(out / "moods.parquet")
    assert {"mood_chill", "mood_energetic", "source"} <= set(moods.columns)
    assert (moods["source"] == "tagger").sum() >= 48

    picture_names = {path.name for path in result.pictures}
    assert "music_map.png" in picture_names
    assert "flow_page.png" in picture_names
    assert "flow_mood_chill.png" in picture_names
    assert any("curve" in name for name in picture_names)
    assert any("confusion" in name for name in picture_names)
    for picture in result.pictures:
        assert picture.stat().st_size > 10_000, picture
