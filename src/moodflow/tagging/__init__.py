"""Batch tagging of new releases (`moodflow tag`) on a local engine or Ray Data.

`run_tagging` is the job; `read_tags` and `read_errors` read its output
folder. See `moodflow.tagging.store` for the folder layout and its commit
protocol. The names are imported on first use, because the decoding worker
processes import `moodflow.tagging.decode` and must not pay for torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TagSummary": "moodflow.tagging.job",
    "run_tagging": "moodflow.tagging.job",
    "read_errors": "moodflow.tagging.store",
    "read_tags": "moodflow.tagging.store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'moodflow.tagging' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
