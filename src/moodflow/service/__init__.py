"""The HTTP service: `moodflow serve` runs `create_app` under uvicorn."""

from moodflow.service.app import create_app

__all__ = ["create_app"]
