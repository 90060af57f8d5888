"""Batch tagging of new releases (`moodflow tag`) on a local engine or Ray Data.

`run_tagging` is the job; `read_tags` and `read_errors` read its output
folder. See `moodflow.tagging.store` for the folder layout and its commit
protocol.
"""

from moodflow.tagging.job import TagSummary, run_tagging
from moodflow.tagging.store import read_errors, read_tags

__all__ = ["TagSummary", "read_errors", "read_tags", "run_tagging"]
