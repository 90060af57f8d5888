"""The FastAPI application: Flow pages, new releases, neighbours and moods over HTTP.

Handlers are `async def` and call the engine directly: a Flow page costs
about a millisecond of CPU, less than a hop through the thread pool would
add under load. Every request is logged with its status and latency.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from moodflow.errors import MoodflowError, SpaceMismatchError
from moodflow.flow.catalogue import UnknownTrackError
from moodflow.flow.cursor import CursorError
from moodflow.flow.engine import FlowEngine
from moodflow.flow.moods import UnknownMoodError
from moodflow.flow.profile import HistoryEntry, HistoryError
from moodflow.flow.session import FlowRequest, FlowRequestError, NoTracksForMoodError

logger = logging.getLogger(__name__)

# Largest history a request body may carry. Flow keeps at most `max_history`
# tracks of it (configs/flow.yaml) and states the cap in the page notes.
MAX_HISTORY_ENTRIES = 100_000


class UnknownListenerError(MoodflowError):
    """A request names a listener id that has no stored history."""

    def __init__(self, listener_id: str) -> None:
        self.listener_id = listener_id
        super().__init__(f"unknown listener id {listener_id!r}; send the history in the request body instead")


class HistoryItem(BaseModel):
    track_id: str = Field(min_length=1, max_length=256)
    plays: float = Field(default=1.0, gt=0, description="play count (> 0)")
    last_played: float | None = Field(default=None, description="time of the last play, Unix seconds")


class ListenerQuery(BaseModel):
    history: list[HistoryItem] | None = Field(default=None, max_length=MAX_HISTORY_ENTRIES)
    listener_id: str | None = Field(default=None, description="use the stored history of this listener")
    mood: str | None = Field(default=None, description="steer by this mood (see GET /moods)")
    mood_mode: str | None = Field(default=None, description="'filter' or 'rerank'; the config's default when absent")
    threshold: float | None = Field(default=None, ge=0, le=1, description="minimum mood score in filter mode")
    seed: int = 0


class FlowPageBody(ListenerQuery):
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")
    page_size: int | None = Field(default=None, ge=1)


class NewReleasesBody(ListenerQuery):
    k: int = Field(default=20, ge=1)


ERROR_STATUS: list[tuple[type, int]] = [
    (CursorError, 400),  # refined by the error's own `status`
    (UnknownTrackError, 404),
    (UnknownListenerError, 404),
    (UnknownMoodError, 400),
    (FlowRequestError, 400),
    (HistoryError, 400),
    (NoTracksForMoodError, 422),
    (SpaceMismatchError, 409),
]


def create_app(engine: FlowEngine, listeners: dict[str, tuple[HistoryEntry, ...]] | None = None, max_neighbours: int = 200) -> FastAPI:
    """Build the application around a loaded engine and optional stored listener histories."""
    listeners = listeners or {}
    catalogue = engine.catalogue
    app = FastAPI(
        title="moodflow",
        summary="Flow and Flow Mood mixes, new releases for a listener, neighbours and moods of tracks",
        version="0.1.0",
    )

    @app.middleware("http")
    async def log_requests(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        logger.info("%s %s %d %.2f ms", request.method, request.url.path, response.status_code, elapsed_ms)
        return response

    @app.exception_handler(MoodflowError)
    async def moodflow_error(request: Request, error: MoodflowError):
        status = getattr(error, "status", None) if isinstance(error, CursorError) else None
        if status is None:
            status = next((code for kind, code in ERROR_STATUS if isinstance(error, kind)), 400)
        logger.info("%s %s rejected: %s", request.method, request.url.path, error)
        return JSONResponse(status_code=status, content={"error": type(error).__name__, "detail": str(error)})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item.get("loc", ()))
            value = item.get("input")
            shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
            problems.append(f"{where}: {item.get('msg')} (got {shown[:80]})")
        return JSONResponse(status_code=400, content={"error": "InvalidRequest", "detail": "; ".join(problems)})

    def resolve_listener(query: ListenerQuery, allow_empty: bool) -> FlowRequest | None:
        if query.history is not None and query.listener_id is not None:
            raise FlowRequestError("send either history or listener_id, not both")
        if query.listener_id is not None:
            if query.listener_id not in listeners:
                raise UnknownListenerError(query.listener_id)
            history = listeners[query.listener_id]
        elif query.history is not None:
            history = tuple(HistoryEntry(h.track_id, h.plays, h.last_played) for h in query.history)
        elif allow_empty:
            return None
        else:
            history = ()
        return FlowRequest(history=history, seed=query.seed, mood=query.mood, mood_mode=query.mood_mode, threshold=query.threshold)

    @app.get("/health", summary="liveness: the process answers")
    async def health():
        return {"status": "ok"}

    @app.get("/ready", summary="readiness: artifacts loaded, with their space id and sizes")
    async def ready():
        index = catalogue.index
        return {
            "ready": True,
            "space_id": catalogue.space_id,
            "tracks": int((~catalogue.is_new_release).sum()),
            "new_releases": int(catalogue.is_new_release.sum()),
            "moods": catalogue.vocabulary.moods,
            "search": type(index).__name__ if index is not None else "exact",
            "listeners": len(listeners),
        }

    @app.get("/moods", summary="the mood vocabulary and default thresholds")
    async def moods():
        vocabulary = catalogue.vocabulary
        return {"moods": vocabulary.moods, "thresholds": {m: vocabulary.threshold(m) for m in vocabulary.moods}}

    @app.get("/tracks/{track_id}/neighbours", summary="nearest tracks of a track in the music space")
    async def neighbours(track_id: str, k: int = Query(10, ge=1, le=max_neighbours)):
        return JSONResponse({"track_id": track_id, "neighbours": engine.neighbours(track_id, k)})

    @app.get("/tracks/{track_id}/moods", summary="mood scores of a track and their source")
    async def track_moods(track_id: str):
        return JSONResponse(engine.mood_scores(track_id))

    # Pages are plain dicts of str, float, int, bool and None, so they are
    # returned as JSONResponse directly, skipping FastAPI's slower generic encoder.
    @app.post("/flow", summary="a page of a Flow or Flow Mood session")
    async def flow(body: FlowPageBody):
        request = resolve_listener(body, allow_empty=body.cursor is not None)
        if request is not None and body.page_size is not None:
            request = FlowRequest(**{**request.__dict__, "page_size": body.page_size})
        return JSONResponse(engine.flow_page(request, body.cursor))

    @app.get("/listeners/{listener_id}/flow", summary="a Flow page for a stored listener")
    async def listener_flow(listener_id: str, mood: str | None = None, cursor: str | None = None, seed: int = 0):
        request = resolve_listener(ListenerQuery(listener_id=listener_id, mood=mood, seed=seed), allow_empty=False)
        return JSONResponse(engine.flow_page(request, cursor))

    @app.post("/new-releases", summary="this week's projected new releases ranked for a listener")
    async def new_releases(body: NewReleasesBody):
        if body.k > max_neighbours:
            raise FlowRequestError(f"invalid k {body.k}; use 1 to {max_neighbours}")
        return JSONResponse(engine.new_releases(resolve_listener(body, allow_empty=False), body.k))

    @app.get("/listeners/{listener_id}/new-releases", summary="new releases ranked for a stored listener")
    async def listener_new_releases(listener_id: str, mood: str | None = None, k: int = Query(20, ge=1, le=max_neighbours)):
        request = resolve_listener(ListenerQuery(listener_id=listener_id, mood=mood), allow_empty=False)
        return JSONResponse(engine.new_releases(request, k))

    return app
