"""`moodflow serve`: load the artifacts and serve the API under uvicorn."""

from __future__ import annotations

import argparse
import logging

from moodflow.logs import configure_logging
from moodflow.service.app import create_app
from moodflow.service.loading import DEFAULT_SERVE_CONFIG, build_engine, limit_threads, load_settings

logger = logging.getLogger(__name__)


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

    import uvicorn

    logger.info("serving on http://%s:%d (OpenAPI at /docs)", settings["host"], settings["port"])
    uvicorn.run(app, host=settings["host"], port=int(settings["port"]), log_level="warning", access_log=False)
    logger.info("server stopped")
    return 0
