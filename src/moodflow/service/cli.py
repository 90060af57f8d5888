"""`moodflow serve`: load the artifacts and serve the API under uvicorn."""

from __future__ import annotations

import argparse
import gc
import logging

from moodflow.logs import configure_logging
from moodflow.service.app import create_app
from moodflow.service.loading import DEFAULT_SERVE_CONFIG, build_engine, limit_threads, load_settings

logger = logging.getLogger(__name__)


def _tune_garbage_collector() -> None:
    """Keep Python's full garbage collections from stalling requests.

    Cached Flow sessions hold many small objects, and each full collection
    walks all of them: on the Art of the Mix catalogue that showed up as
    100 to 250 ms stalls on every endpoint under load. The objects loaded at
    start-up are frozen (never scanned again) and collections run after
    50,000 allocations instead of 700, so full ones become rare. Reference
    cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    logger.info("garbage collector: %d start-up objects frozen, thresholds %s", gc.get_freeze_count(), gc.get_threshold())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="moodflow serve",
        description="Serve Flow pages, new releases, neighbours and moods over HTTP (OpenAPI at /docs).",
    )
    parser.add_argument("overrides", nargs="*", help="settings as key=value, e.g. space=outputs/space moods=outputs/moods.parquet port=8000")
    parser.add_argument("--config", default=str(DEFAULT_SERVE_CONFIG), help="serve settings YAML (default: %(default)s)")
    parser.add_argument("--verbose", action="store_true", help="log at DEBUG level")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)

    settings = load_settings(args.config, args.overrides)
    limit_threads(int(settings["threads"]))
    engine, listeners = build_engine(settings)
    app = create_app(engine, listeners, max_neighbours=int(settings["max_neighbours"]))
    _tune_garbage_collector()

    import uvicorn

    logger.info("serving on http://%s:%d (OpenAPI at /docs)", settings["host"], settings["port"])
    uvicorn.run(app, host=settings["host"], port=int(settings["port"]), log_level="warning", access_log=False)
    logger.info("server stopped")
    return 0
