"""Time the Flow engine in-process, without HTTP: the service's compute per request.

Loads the same artifacts as `moodflow serve` and times, over the stored
listeners: a session's first page, the next page of an open session, a Flow
Mood first page (rerank, random mood), neighbours and new releases.

    nice -n 10 .venv/bin/python scripts/bench_flow_pages.py --artifacts outputs/flow-aotm --requests 300
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

from moodflow.service.loading import build_engine, limit_threads, load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifacts", type=Path, required=True, help="folder with space/, index/, moods-serve.parquet, ...")
    parser.add_argument("--requests", type=int, default=300, help="requests timed per operation")
    args = parser.parse_args()

    folder = args.artifacts
    settings = load_settings(overrides=[
        f"space={folder / 'space'}", f"index={folder / 'index'}", f"moods={folder / 'moods-serve.parquet'}",
        f"projections={folder / 'projections.parquet'}", f"listeners={folder / 'listeners.csv'}", "cursor_secret=bench",
    ])
    limit_threads(int(settings["threads"]))
    engine, listeners = build_engine(settings)
    from moodflow.flow.session import FlowRequest

    rng = random.Random(0)
    ids = sorted(listeners)
    moods = engine.catalogue.vocabulary.moods
    tracks = [str(t) for t in engine.catalogue.track_ids[: len(engine.catalogue)]]
    cursors: list[tuple] = []

    def first_page():
        request = FlowRequest(history=listeners[rng.choice(ids)], seed=rng.randrange(1 << 30))
        page = engine.flow_page(request)
        cursors.append((request, page["next_cursor"]))

    def next_page():
        request, cursor = cursors.pop(0)
        page = engine.flow_page(request, cursor)
        cursors.append((request, page["next_cursor"]))

    operations = {
        "flow first page": first_page,
        "flow next page": next_page,
        "flow mood first page (rerank)": lambda: engine.flow_page(
            FlowRequest(history=listeners[rng.choice(ids)], seed=rng.randrange(1 << 30), mood=rng.choice(moods), mood_mode="rerank")
        ),
        "flow mood first page (filter)": lambda: engine.flow_page(
            FlowRequest(history=listeners[rng.choice(ids)], seed=rng.randrange(1 << 30), mood=rng.choice(moods))
        ),
        "neighbours (k = 20)": lambda: engine.neighbours(rng.choice(tracks), 20),
        "new releases (k = 20)": lambda: engine.new_releases(FlowRequest(history=listeners[rng.choice(ids)]), 20),
    }
    print(f"{len(engine.catalogue)} catalogue rows, {len(ids)} listeners, {args.requests} requests per operation\n")
    print("| operation | p50 (ms) | p99 (ms) | mean (ms) |")
    print("|---|---|---|---|")
    for name, operation in operations.items():
        timings = []
        for _ in range(args.requests):
            started = time.perf_counter()
            operation()
            timings.append((time.perf_counter() - started) * 1000)
        p50, p99 = np.percentile(timings, [50, 99])
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {np.mean(timings):.2f} |", flush=True)


if __name__ == "__main__":
    main()
