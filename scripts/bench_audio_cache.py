"""Time loading every track of an Emotify-layout folder cold (decode) and warm (cache).

Example:
    python scripts/bench_audio_cache.py ../shared/data/emotify --sample-rate 16000

The cold pass decodes and resamples each file with `moodflow.audio.load_audio`
and writes it to a fresh cache in a temporary folder. The warm pass reads the
same tracks back from the cache as float32 arrays. The baseline, plain
`load_audio` with no cache, is timed in the same run.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time

from moodflow.audio import load_audio
from moodflow.data import AudioCache, emotify_manifest


def time_pass(load, paths) -> tuple[float, int]:
    start = time.perf_counter()
    n_samples = sum(load(path).size for path in paths)
    return time.perf_counter() - start, n_samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="Emotify-layout folder with tracks.csv")
    parser.add_argument("--sample-rate", type=int, default=16_000, help="target sample rate in Hz (default 16000)")
    parser.add_argument("--dtype", default="float32", choices=("float16", "float32"), help="cache storage dtype (default float32)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N tracks")
    args = parser.parse_args(argv)

    paths = emotify_manifest(args.root).table["path"].tolist()[: args.limit]
    with tempfile.TemporaryDirectory(prefix="moodflow-cache-bench-") as directory:
        cache = AudioCache(directory, args.sample_rate, dtype=args.dtype)
        plain_s, n_samples = time_pass(lambda path: load_audio(path, args.sample_rate), paths)
        cold_s, _ = time_pass(cache.load, paths)
        warm_s, _ = time_pass(cache.load, paths)
        second_warm_s, _ = time_pass(cache.load, paths)

    audio_h = n_samples / args.sample_rate / 3600
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"tracks: {len(paths)}, audio: {audio_h:.2f} h at {args.sample_rate} Hz, cache dtype {args.dtype}")
    print(f"load_audio, no cache:      {plain_s:7.2f} s ({len(paths) / plain_s:7.1f} tracks/s)")
    print(f"cache cold (decode+write): {cold_s:7.2f} s ({len(paths) / cold_s:7.1f} tracks/s)")
    print(f"cache warm:                {warm_s:7.2f} s ({len(paths) / warm_s:7.1f} tracks/s)")
    print(f"cache warm, second pass:   {second_warm_s:7.2f} s")
    print(f"speed-up warm vs load_audio: {plain_s / warm_s:.1f}x; warm vs cold: {cold_s / warm_s:.1f}x")
    print(f"peak resident memory: {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
