"""Cold-start evaluation of the audio projection on generated linked data.

The tracks' tagger outputs and playlists derive from the same hidden taste
factors (`moodflow.coldstart.linked.linked_world`), so the true vector of
every track is known. The protocol is the one of
`bench_coldstart_aotm.py`: hide 10% of the warm tracks, build the full and
the reduced space, align them with orthogonal Procrustes, train on the
reduced space's warm tracks (audio and simulated early usage), and score
the hidden tracks per feature set.

Usage:
    nice -n 10 .venv/bin/python scripts/bench_coldstart_audio.py --out-json /tmp/coldstart_audio.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from bench_coldstart_aotm import MAX_EARLY, align, evaluate, hidden_features, print_markdown, throughput, unit

from moodflow.coldstart.assemble import warm_training_rows
from moodflow.coldstart.cli import load_config
from moodflow.coldstart.linked import linked_world
from moodflow.coldstart.train import train_from_rows
from moodflow.logs import configure_logging
from moodflow.space import SpaceConfig, build_space

logger = logging.getLogger("bench_coldstart_audio")

FEATURE_SETS = {
    "audio": (["audio"], 1),
    "usage, 1 playlist": (["usage"], 1),
    "usage, 3 playlists": (["usage"], 3),
    "audio + 1 playlist": (["audio", "usage"], 1),
    "audio + 3 playlists": (["audio", "usage"], 3),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=5000, help="number of generated tracks")
    parser.add_argument("--playlists", type=int, default=30000, help="number of generated playlists")
    parser.add_argument("--clusters", type=int, default=20, help="number of taste clusters")
    parser.add_argument("--dim", type=int, default=64, help="space dimension")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="cold-start config overrides KEY=VALUE")
    parser.add_argument("--out-json", type=Path, help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    configure_logging()
    config = load_config(None, args.overrides)
    rng = np.random.default_rng(args.seed)

    playlists, tags, _ = linked_world(
        seed=args.seed, n_tracks=args.tracks, n_clusters=args.clusters, n_playlists=args.playlists, embedding_dim=64
    )
    space_config = SpaceConfig(dim=args.dim)
    full = build_space(playlists, space_config)
    hidden = rng.choice(np.asarray(full.track_ids, dtype=str), size=len(full.track_ids) // 10, replace=False)
    reduced_playlists = playlists[~playlists["track_id"].isin(set(hidden.tolist()))]
    reduced = build_space(reduced_playlists, space_config)
    rotation, alignment_cosine = align(full, reduced)
    true = unit(full.vectors[[full.row_of(track_id) for track_id in hidden]] @ rotation).astype(np.float32)

    warm_tags = tags[~tags["track_id"].isin(set(hidden.tolist()))]
    rows = warm_training_rows(reduced, config, warm_tags, None, reduced_playlists)
    models = train_from_rows(rows, reduced, config)
    started = time.perf_counter()
    tables, partner_rows = hidden_features(reduced, models["mlp"].layout, config, hidden, playlists, None, None, rng, tags=tags)
    hidden_seconds = time.perf_counter() - started
    results = evaluate(models, reduced, tables, true, partner_rows, args.seed, FEATURE_SETS)

    summary = {
        "tracks": args.tracks,
        "playlists": args.playlists,
        "hidden_tracks": len(hidden),
        "alignment_cosine": alignment_cosine,
        "training_rows": len(rows.table),
        "mlp_train_seconds": models["mlp"].summary["train_seconds"],
        "ridge_train_seconds": models["ridge"].summary["train_seconds"],
        "hidden_feature_tracks_per_second": MAX_EARLY * len(hidden) / hidden_seconds,
        "mlp_predict_tracks_per_second": throughput(models["mlp"], tables[MAX_EARLY]),
    }
    print(json.dumps(summary, indent=2))
    print_markdown(results)
    if args.out_json:
        args.out_json.write_text(json.dumps({"summary": summary, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
