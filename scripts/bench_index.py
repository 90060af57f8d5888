"""Index benchmark: recall@10 against exact search, QPS, build time and memory.

For every index kind, on a saved space folder or on generated clustered
unit vectors, prints one JSON line. Examples:

    nice -n 10 .venv/bin/python scripts/bench_index.py --space /tmp/space_real
    nice -n 10 .venv/bin/python scripts/bench_index.py --generated 2000000 --dim 128 --kinds flat ivf_flat ivf_pq
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from moodflow.index import KINDS, TrackIndex
from moodflow.space import MusicSpace


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def generated_space(n: int, dim: int, n_clusters: int, seed: int) -> tuple[MusicSpace, np.ndarray]:
    """Return a space of n clustered unit vectors and 1,000 held-out queries from the same mixture."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim)).astype(np.float32)
    vectors = np.empty((n, dim), dtype=np.float32)
    step = 200_000
    for start in range(0, n, step):
        stop = min(n, start + step)
        vectors[start:stop] = centres[rng.integers(n_clusters, size=stop - start)]
        vectors[start:stop] += 0.5 * rng.normal(size=(stop - start, dim)).astype(np.float32)
    queries = centres[rng.integers(n_clusters, size=1000)] + 0.5 * rng.normal(size=(1000, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    space = MusicSpace.from_vectors([f"t{i}" for i in range(n)], vectors)
    del vectors
    return space, queries


def index_bytes(index: TrackIndex) -> int:
    with tempfile.TemporaryDirectory() as folder:
        import faiss

        path = Path(folder) / "index.faiss"
        faiss.write_index(index.faiss_index, str(path))
        return path.stat().st_size


def ids(pages):
    return [set(track_id for track_id, _ in page) for page in pages]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--space", type=Path, help="space folder")
    source.add_argument("--generated", type=int, help="number of generated vectors")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    parser.add_argument("--hnsw-subset", type=int, default=0,
                        help="build HNSW on this many vectors only (0 = all) and extrapolate the build time")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--param", action="append", default=[], metavar="KIND.KEY=VALUE",
                        help="override a build parameter, e.g. ivf_flat.nlist=1024 (may be repeated)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    if args.space:
        space = MusicSpace.load(args.space)
        rng = np.random.default_rng(0)
        queries = space.vectors[rng.choice(len(space), size=min(args.queries, len(space)), replace=False)]
        label = str(args.space)
    else:
        started = time.perf_counter()
        space, queries = generated_space(args.generated, args.dim, args.clusters, seed=0)
        queries = queries[: args.queries]
        label = f"generated {args.generated} x {args.dim}"
        print(json.dumps({"generated_seconds": round(time.perf_counter() - started, 1)}), flush=True)
    print(json.dumps({"space": label, "n": len(space), "dim": space.dim, "threads": os.cpu_count(),
                      "peak_rss_gib": round(peak_rss_gib(), 2)}), flush=True)

    overrides: dict[str, dict] = {}
    for item in args.param:
        name, value = item.split("=", 1)
        kind_name, key = name.split(".", 1)
        overrides.setdefault(kind_name, {})[key] = int(value) if value.lstrip("-").isdigit() else float(value)

    truth = ids(TrackIndex.build(space, "flat").search(queries, 10))
    for kind in args.kinds:
        indexed = space
        note = ""
        if kind == "hnsw" and args.hnsw_subset and args.hnsw_subset < len(space):
            indexed = MusicSpace.from_vectors(space.track_ids[: args.hnsw_subset], space.vectors[: args.hnsw_subset])
            note = f"built on the first {args.hnsw_subset} vectors; recall against exact search over that subset"
        started = time.perf_counter()
        index = TrackIndex.build(indexed, kind, **overrides.get(kind, {}))
        build_seconds = time.perf_counter() - started
        expected = truth if indexed is space else ids(TrackIndex.build(indexed, "flat").search(queries, 10))

        started = time.perf_counter()
        batched = index.search(queries, 10)
        batched_qps = len(queries) / (time.perf_counter() - started)
        n_single = min(200, len(queries))
        started = time.perf_counter()
        for query in queries[:n_single]:
            index.search(query[None, :], 10)
        single_qps = n_single / (time.perf_counter() - started)
        recall = float(np.mean([len(found & want) / 10 for found, want in zip(ids(batched), expected)]))
        row = {
            "kind": kind, "params": index.params, "n_indexed": len(index), "recall@10": round(recall, 4),
            "qps_single": round(single_qps, 1), "qps_batched": round(batched_qps, 1),
            "build_seconds": round(build_seconds, 1), "index_mib": round(index_bytes(index) / 2**20, 1),
            "peak_rss_gib": round(peak_rss_gib(), 2),
        }
        if note:
            row["note"] = note
            row["build_seconds_extrapolated_linear"] = round(build_seconds * len(space) / len(indexed), 0)
        print(json.dumps(row), flush=True)
        del index


if __name__ == "__main__":
    main()
