"""Logging set-up for the command-line entry points."""

from __future__ import annotations

import logging
import os

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(verbose: bool = False) -> None:
    """Send moodflow's log records to stderr.

    The level is DEBUG with `verbose`, otherwise the `MOODFLOW_LOG_LEVEL`
    environment variable, otherwise INFO.
    """
    level_name = "DEBUG" if verbose else os.environ.get("MOODFLOW_LOG_LEVEL", "INFO")
    level = logging.getLevelName(level_name.upper())
    if not isinstance(level, int):
        raise ValueError(
            f"invalid MOODFLOW_LOG_LEVEL {level_name!r}; use DEBUG, INFO, WARNING or ERROR"
        )
    logging.basicConfig(level=level, format=LOG_FORMAT, force=True)
    # faiss logs each instruction-set build it tries to load at INFO level.
    logging.getLogger("faiss.loader").setLevel(max(level, logging.WARNING))
