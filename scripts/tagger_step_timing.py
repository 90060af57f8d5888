"""Time one training step of the tagger network at a given torch thread count.

On a shared CPU, fewer threads per process can be faster, because threads
that wait for each other lose their time slices. Example:

    nice -n 10 python scripts/tagger_step_timing.py --threads 1
    nice -n 10 python scripts/tagger_step_timing.py --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch

from moodflow.tagger.bundle import DEFAULT_FRONT_END
from moodflow.tagger.network import build_tagger_net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--batch-size", type=int, default=32, help="3 s crops per step")
    parser.add_argument("--hop-length", type=int, default=256, help="mel hop in samples at 16 kHz")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    net = build_tagger_net(
        9,
        4,
        front_end={**DEFAULT_FRONT_END, "hop_length": args.hop_length},
        backbone={"channels": [16, 32, 64, 64, 128], "embedding_dim": 128, "dropout": 0.3},
    )
    optimizer = torch.optim.AdamW(net.parameters())
    batch = torch.randn(args.batch_size, 48000)
    for _ in range(args.repeats):
        started = time.perf_counter()
        outputs = net(batch)
        loss = outputs["mood_logits"].sum() + outputs["genre_logits"].sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(f"threads={args.threads} batch={args.batch_size} hop={args.hop_length}: {time.perf_counter() - started:.2f} s per step")


if __name__ == "__main__":
    main()
