"""The Flow engine shared by `moodflow flow` and the HTTP service.

`FlowEngine` keeps recent sessions in a bounded LRU store, hands out signed
cursors, and turns pages into plain dictionaries. A session evicted from
the store is rebuilt from the request (sessions are deterministic), so only
a cursor-only request for an evicted session fails.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from moodflow.flow.catalogue import Catalogue
from moodflow.flow.cursor import (
    Cursor,
    CursorSessionMismatchError,
    StaleCursorError,
    decode_cursor,
    encode_cursor,
)
from moodflow.flow.profile import resolve_history, taste_centres
from moodflow.flow.session import (
    FlowConfig,
    FlowPage,
    FlowRequest,
    FlowRequestError,
    FlowSession,
    NoTracksForMoodError,
    complete_request,
    session_key,
)

logger = logging.getLogger(__name__)


@dataclass
class _Slot:
    lock: threading.Lock
    session: FlowSession | None = None


class FlowEngine:
    """Serves Flow pages, new releases and neighbours over one catalogue."""

    def __init__(self, catalogue: Catalogue, config: FlowConfig, secret: bytes, max_sessions: int = 2048) -> None:
        self.catalogue = catalogue
        self.config = config
        self.secret = secret
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, _Slot] = OrderedDict()
        self._store_lock = threading.Lock()

    # --- Flow pages -----------------------------------------------------------

    def flow_page(self, request: FlowRequest | None, cursor: str | None = None) -> dict:
        """Return the first page of `request`'s session, or the page `cursor` points at.

        With a cursor and no request, the session must still be in the store.
        With both, the cursor must belong to the request's session.
        """
        position = 0
        key = None
        if cursor is not None:
            decoded = decode_cursor(cursor, self.secret, self.catalogue.space_id)
            position, key = decoded.page, decoded.session_key
        if request is None:
            if key is None:
                raise FlowRequestError("a Flow request needs a history, a listener id or a cursor")
            session = self._cached(key)
            if session is None:
                raise StaleCursorError(
                    f"session {key} has expired from this server; send the history again with the cursor"
                )
        else:
            request = complete_request(request, self.catalogue, self.config)
            request_key = session_key(self.catalogue.space_id, request, self.config)
            if key is not None and key != request_key:
                raise CursorSessionMismatchError(
                    f"the cursor belongs to session {key}, but this request describes session {request_key}; "
                    "send the cursor with the same history, seed and mood, or drop it to start a new session"
                )
            session = self._session(request_key, request)
        page = session.page(position)
        return self.describe_page(session, page)

    def _cached(self, key: str) -> FlowSession | None:
        with self._store_lock:
            slot = self._sessions.get(key)
            if slot is not None:
                self._sessions.move_to_end(key)
        return None if slot is None else slot.session

    def _session(self, key: str, request: FlowRequest) -> FlowSession:
        with self._store_lock:
            slot = self._sessions.get(key)
            if slot is None:
                slot = self._sessions[key] = _Slot(threading.Lock())
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(key)
        # One lock per session, so concurrent first requests build it once.
        with slot.lock:
            if slot.session is None:
                slot.session = FlowSession(self.catalogue, request, self.config)
                logger.debug("built Flow session %s with %d centre(s)", key, len(slot.session.centres))
        return slot.session

    def describe_page(self, session: FlowSession, page: FlowPage) -> dict:
        catalogue = self.catalogue
        next_cursor = None
        if not page.exhausted:
            next_cursor = encode_cursor(Cursor(session.key, page.page + 1, catalogue.space_id), self.secret)
        return {
            "session": session.key,
            "page": page.page,
            "start": page.start,
            "mood": session.mood,
            "mood_mode": session.mood_mode if session.mood else None,
            "threshold": session.threshold,
            "centres": len(session.centres),
            "exhausted": page.exhausted,
            "notes": page.notes,
            "next_cursor": next_cursor,
            "tracks": [
                {
                    **self.describe_track(item.row),
                    "source": item.source,
                    "reason": item.reason,
                    "score": round(item.score, 4),
                    "nearest_history_track": (
                        None if item.nearest_history_row is None else str(catalogue.track_ids[item.nearest_history_row])
                    ),
                }
                for item in page.items
            ],
        }

    def describe_track(self, row: int) -> dict:
        catalogue = self.catalogue
        return {
            "track_id": str(catalogue.track_ids[row]),
            "title": catalogue.titles[row] or None,
            "artist": catalogue.artists[row] or None,
            "new_release": bool(catalogue.is_new_release[row]),
            "moods": catalogue.moods_of(row),
        }

    # --- other queries --------------------------------------------------------

    def neighbours(self, track_id: str, k: int) -> list[dict]:
        """Return the `k` nearest catalogue tracks of `track_id`, itself excluded."""
        row = self.catalogue.require_row(track_id)
        rows, scores = self.catalogue.search(self.catalogue.vectors[row], k, exclude_rows=np.array([row]))
        return [{**self.describe_track(r), "similarity": round(float(s), 4)} for r, s in zip(rows, scores)]

    def mood_scores(self, track_id: str) -> dict:
        row = self.catalogue.require_row(track_id)
        return {**self.describe_track(row), "source": str(self.catalogue.mood_sources[row])}

    def new_releases(self, request: FlowRequest, k: int) -> dict:
        """Rank projected new releases by similarity to the listener's taste centres.

        With a mood in filter mode only releases at or above the threshold
        are ranked; in rerank mode the similarity is multiplied by
        `1 - w + w * mood score`.
        """
        catalogue = self.catalogue
        request = complete_request(request, catalogue, self.config)
        history = resolve_history(list(request.history), catalogue.row_of, self.config.max_history)
        notes = []
        if history.unknown_ids:
            notes.append(f"ignored {len(history.unknown_ids)} unknown track id(s)")
        rows = np.flatnonzero(catalogue.is_new_release)
        if len(rows) == 0:
            return {"releases": [], "notes": notes + ["no projected new releases are loaded"], "mood": request.mood}
        if len(history.rows):
            centres, _, _ = taste_centres(
                catalogue.vectors[history.rows], np.log1p(history.plays), self.config.max_centres,
                self.config.min_tracks_per_centre, seed=request.seed, min_silhouette=self.config.min_silhouette,
            )
            score = (catalogue.vectors[rows] @ centres.T).max(axis=1).astype(np.float64)
        else:
            notes.append("no known history track, so releases are ranked by mood score" if request.mood else
                         "no known history track, so releases are in catalogue order")
            score = np.zeros(len(rows))
        if request.mood:
            column = catalogue.vocabulary.check_mood(request.mood)
            mood = catalogue.mood_scores[rows, column].astype(np.float64)
            if request.mood_mode == "filter":
                keep = mood >= request.threshold
                if not keep.any():
                    raise NoTracksForMoodError(
                        f"no new release has a {request.mood!r} score of at least {request.threshold:.2f} "
                        f"(the highest is {mood.max():.2f}); lower the threshold or use mood_mode 'rerank'"
                    )
                rows, score, mood = rows[keep], score[keep], mood[keep]
                if not len(history.rows):
                    score = mood
            else:
                weight = self.config.rerank_weight
                score = (score if len(history.rows) else np.ones(len(rows))) * ((1 - weight) + weight * mood)
        order = np.argsort(-score, kind="stable")[:k]
        return {
            "mood": request.mood,
            "notes": notes,
            "releases": [{**self.describe_track(rows[i]), "score": round(float(score[i]), 4)} for i in order],
        }
