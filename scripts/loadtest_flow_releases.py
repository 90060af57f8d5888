"""Write the cold-start inputs that give the load-test server real new releases.

The space's cold tracks (too few playlists for a vector) that have a Deezer
artist stand in for this week's releases. Writes `warm_metadata.csv` (warm
tracks: track_id, artist, valence, arousal) and `releases.csv` (cold tracks:
track_id, artist) under `--out`; `moodflow coldstart train|project` then
turns them into projections.parquet.

    .venv/bin/python scripts/loadtest_flow_releases.py --data ../shared/data --out outputs/flow-aotm
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.space import MusicSpace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with deezer-mood/")
    parser.add_argument("--out", type=Path, required=True, help="folder with space/; the tables are written here")
    parser.add_argument("--releases", type=int, default=1000, help="maximum number of stand-in releases")
    args = parser.parse_args()

    space = MusicSpace.load(args.out / "space")
    deezer = pd.concat([pd.read_csv(args.data / "deezer-mood" / f"{s}.csv") for s in ("train", "validation", "test")])
    deezer = deezer.drop_duplicates("MSD_sng_id").rename(
        columns={"MSD_sng_id": "track_id", "artist_name": "artist"}
    )[["track_id", "artist", "valence", "arousal"]]

    warm = deezer[deezer["track_id"].isin(set(np.asarray(space.track_ids).astype(str)))]
    warm_artists = set(warm["artist"])
    cold = deezer[deezer["track_id"].isin(set(np.asarray(space.cold_track_ids).astype(str)))]
    cold = cold[cold["artist"].isin(warm_artists)].head(args.releases)
    warm.to_csv(args.out / "warm_metadata.csv", index=False)
    cold[["track_id", "artist"]].to_csv(args.out / "releases.csv", index=False)
    print(f"{len(warm)} warm tracks with metadata, {len(cold)} stand-in releases written to {args.out}")


if __name__ == "__main__":
    main()
