"""Time resampling 3 minutes of 44.1 kHz audio to 16 kHz with soxr, librosa and torchaudio.

Example:
    python scripts/bench_resample.py --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time

import librosa
import numpy as np
import soxr
import torch
import torchaudio.functional


def best_time(function, repeats: int) -> tuple[float, int]:
    function()  # warm-up: first calls build filters and load code
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        output = function()
        times.append(time.perf_counter() - start)
    return min(times), len(output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; the best is reported (default 3)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    source_rate, target_rate = 44_100, 16_000
    noise = 0.1 * np.random.default_rng(0).standard_normal(180 * source_rate).astype(np.float32)
    candidates = {
        "soxr HQ": lambda: soxr.resample(noise, source_rate, target_rate, quality="HQ"),
        "librosa soxr_hq": lambda: librosa.resample(noise, orig_sr=source_rate, target_sr=target_rate, res_type="soxr_hq"),
        "torchaudio resample": lambda: torchaudio.functional.resample(
            torch.from_numpy(noise), source_rate, target_rate
        ).numpy(),
    }
    baseline_s = None
    for name, function in candidates.items():
        seconds, n_samples = best_time(function, args.repeats)
        baseline_s = baseline_s or seconds
        print(f"{name:20s} {seconds:7.3f} s  {n_samples} samples  {seconds / baseline_s:5.1f}x soxr HQ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
