"""Flow sessions: an endless, reproducible mix of favourites, forgotten gems,
discoveries and new releases, optionally steered by a mood.

A session is a pure function of (catalogue, request, config): pages are
generated in order from seeded streams, so the same request and seed always
give the same pages, and a server that lost a session can replay it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from moodflow.errors import MoodflowError
from moodflow.flow.catalogue import Catalogue
from moodflow.flow.profile import HistoryEntry, resolve_history, taste_centres
from moodflow.flow.streams import DiscoveryStream, LazyStream, RankedStream
from moodflow.hashing import content_hash

logger = logging.getLogger(__name__)

SOURCES = ("favourite", "gem", "discovery", "new_release")
MOOD_MODES = ("filter", "rerank")
SECONDS_PER_DAY = 86_400.0


class FlowRequestError(MoodflowError):
    """A Flow request has an invalid value."""


class NoTracksForMoodError(MoodflowError):
    """No track passes the mood threshold, so a filtered session would be empty."""


@dataclass(frozen=True)
class FlowConfig:
    """Tunable behaviour of Flow sessions (see `configs/flow.yaml`)."""

    page_size: int = 20
    max_page_size: int = 100
    shares: dict = field(default_factory=lambda: {"favourite": 0.25, "gem": 0.15, "discovery": 0.5, "new_release": 0.1})
    artist_cap: int = 2
    max_history: int = 2000
    max_centres: int = 4
    min_tracks_per_centre: int = 5
    min_silhouette: float = 0.25
    recent_days: float = 14.0
    gem_age_days: float = 180.0
    discovery_block: int = 100
    jitter: float = 0.02
    mood_mode: str = "filter"
    rerank_weight: float = 0.5
    cooccurrence_weight: float = 1.0

    def __post_init__(self) -> None:
        unknown = [s for s in self.shares if s not in SOURCES]
        if unknown or any(v < 0 for v in self.shares.values()) or sum(self.shares.values()) <= 0:
            raise FlowRequestError(f"invalid Flow shares {self.shares}; use non-negative shares of {', '.join(SOURCES)}")
        if self.mood_mode not in MOOD_MODES:
            raise FlowRequestError(f"invalid mood_mode {self.mood_mode!r}; choose one of {', '.join(MOOD_MODES)}")
        if self.artist_cap < 1 or self.page_size < 1 or self.max_page_size < self.page_size:
            raise FlowRequestError(
                f"invalid Flow sizes: artist_cap={self.artist_cap}, page_size={self.page_size}, "
                f"max_page_size={self.max_page_size}; all must be >= 1 and page_size <= max_page_size"
            )

    def fingerprint(self) -> str:
        return content_hash([json.dumps(asdict(self), sort_keys=True)])


@dataclass(frozen=True)
class FlowRequest:
    """A listener's request; `None` fields take the config's default."""

    history: tuple[HistoryEntry, ...] = ()
    seed: int = 0
    mood: str | None = None
    mood_mode: str | None = None
    threshold: float | None = None
    page_size: int | None = None


@dataclass
class PageItem:
    row: int
    source: str
    reason: str
    score: float
    nearest_history_row: int | None = None


@dataclass
class FlowPage:
    session_key: str
    page: int
    items: list[PageItem]
    exhausted: bool
    notes: list[str]
    start: str


class FlowSession:
    """One listener's Flow session; `page(n)` is thread-safe and idempotent."""

    def __init__(self, catalogue: Catalogue, request: FlowRequest, config: FlowConfig) -> None:
        """Build a session from a request that `complete_request` has filled in."""
        self.catalogue = catalogue
        self.config = config
        self.mood = request.mood
        self.mood_mode = request.mood_mode
        self.page_size = request.page_size
        self.threshold = request.threshold
        self.mood_column = catalogue.vocabulary.check_mood(request.mood) if request.mood else None
        self.key = session_key(catalogue.space_id, request, config)
        self.notes: list[str] = []
        self.history = resolve_history(list(request.history), catalogue.row_of, config.max_history)
        self._lock = threading.Lock()
        self._pages: list[FlowPage] = []
        self._used = np.zeros(len(catalogue), dtype=bool)
        self._rng = np.random.default_rng(int(self.key, 16))

        self._explain_history(len(request.history))
        self.allowed_mask = self._mood_mask()
        self.mood_weight = self._mood_weight()
        if len(self.history.rows):
            self.start = "history"
        elif self.mood:
            self.start = "mood"
        else:
            self.start = "popularity"
        self._build_profile()
        self._build_streams()

    # --- set-up -------------------------------------------------------------

    def _explain_history(self, n_entries: int) -> None:
        history = self.history
        if history.capped_from is not None:
            self.notes.append(
                f"history capped to the {self.config.max_history} most recently and most often played tracks "
                f"of {history.capped_from}"
            )
        if history.unknown_ids:
            shown = ", ".join(history.unknown_ids[:5]) + (" ..." if len(history.unknown_ids) > 5 else "")
            self.notes.append(f"ignored {len(history.unknown_ids)} unknown track id(s): {shown}")
        if len(history.rows) == 0:
            reason = "the history is empty" if n_entries == 0 else "no history track is in the catalogue"
            basis = f"tracks that best match mood {self.mood!r}" if self.mood else "the most popular tracks"
            self.notes.append(f"{reason}, so this session starts from {basis}")

    def _mood_mask(self) -> np.ndarray:
        if self.mood_column is None or self.mood_mode != "filter":
            return np.ones(len(self.catalogue), dtype=bool)
        scores = self.catalogue.mood_scores[:, self.mood_column]
        mask = scores >= self.threshold
        if not mask.any():
            raise NoTracksForMoodError(
                f"no track has a {self.mood!r} score of at least {self.threshold:.2f} (the highest is "
                f"{float(scores.max()):.2f}); lower the threshold or use mood_mode 'rerank'"
            )
        return mask

    def _mood_weight(self) -> np.ndarray | None:
        """Per-row multiplier in [1 - w, 1] applied to ranking scores in rerank mode."""
        if self.mood_column is None or self.mood_mode != "rerank":
            return None
        weight = self.config.rerank_weight
        return (1.0 - weight) + weight * self.catalogue.mood_scores[:, self.mood_column].astype(np.float64)

    def _build_profile(self) -> None:
        catalogue = self.catalogue
        rows = self.history.rows
        if len(rows):
            self.centres, self.centre_weights, _ = taste_centres(
                catalogue.vectors[rows],
                np.log1p(self.history.plays),
                self.config.max_centres,
                self.config.min_tracks_per_centre,
                seed=int(self.key[:8], 16),
                min_silhouette=self.config.min_silhouette,
            )
        else:
            popular = np.argsort(-catalogue.popularity, kind="stable")[:200]
            popular = popular[self.allowed_mask[popular]] if len(popular) else popular
            centre = catalogue.vectors[popular].mean(axis=0) if len(popular) else np.zeros(catalogue.vectors.shape[1], np.float32)
            norm = np.linalg.norm(centre)
            self.centres = (centre / norm if norm > 0 else centre)[None, :].astype(np.float32)
            self.centre_weights = np.ones(1)

    def _build_streams(self) -> None:
        catalogue, config, history = self.catalogue, self.config, self.history
        history_mask = np.zeros(len(catalogue), dtype=bool)
        history_mask[history.rows] = True
        self._history_mask = history_mask
        favourites, gems = self._split_history()
        self.streams: dict[str, object] = {
            "favourite": self._rank_history(favourites, "favourite"),
            "gem": self._rank_history(gems, "gem"),
            "new_release": self._rank_new_releases(),
        }
        candidate_mask = self.allowed_mask & ~history_mask & ~catalogue.is_new_release
        if len(history.rows):
            search_rows, subset_key = None, None
            if self.mood_column is not None and self.mood_mode == "filter":
                # The same for every session with this mood and threshold, so the catalogue caches it.
                search_rows = np.flatnonzero(self.allowed_mask & ~catalogue.is_new_release)
                subset_key = (self.mood, self.threshold)
            self.streams["discovery"] = DiscoveryStream(
                catalogue, self.centres, self.centre_weights, candidate_mask, config.discovery_block,
                self.mood_weight, config.jitter, self._rng, search_rows, subset_key, self._cooccurrence_boost(),
            )
        else:
            self.streams["discovery"] = self._rank_popular(candidate_mask, self._rng)
        # Last resort once the mix is used up: anything allowed, most popular
        # first. It has its own generator, so building it late changes no other ranking.
        fill_rng = np.random.default_rng([int(self.key, 16), 1])
        self.streams["fill"] = LazyStream(lambda: self._rank_popular(self.allowed_mask & ~history_mask, fill_rng))

    def _cooccurrence_boost(self) -> np.ndarray | None:
        """Return `weight * log(1 + s_j) / log(1 + max s)` per row, s_j the history's co-occurrence with j.

        The same boost as the index's co-occurrence re-ranking; None when it
        is switched off or the catalogue has no co-occurrence counts.
        """
        catalogue, weight = self.catalogue, self.config.cooccurrence_weight
        if weight <= 0 or catalogue.cooccurrence is None:
            return None
        history = [(str(catalogue.track_ids[r]), float(p)) for r, p in zip(self.history.rows, self.history.plays)]
        scores = catalogue.cooccurrence(history)
        counts = np.zeros(len(catalogue))
        rows = catalogue.rows_of(scores.keys())
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        counts[rows[rows >= 0]] = values[rows >= 0]
        largest = counts.max()
        if largest <= 0:
            return None
        return weight * np.log1p(counts) / np.log1p(largest)

    def _split_history(self) -> tuple[np.ndarray, np.ndarray]:
        """Split history positions into favourites and forgotten gems; drop recent plays."""
        history = self.history
        positions = np.arange(len(history.rows))
        positions = positions[self.allowed_mask[history.rows]]
        last = history.last_played[positions]
        if np.isfinite(history.last_played).any():
            now = np.nanmax(history.last_played)
            age_days = (now - last) / SECONDS_PER_DAY
            recent = age_days < self.config.recent_days  # NaN compares False: unknown age is not recent
            gem = age_days >= self.config.gem_age_days
            return positions[~recent & ~gem], positions[gem]
        if len(positions):
            self.notes.append("no play times in the history, so forgotten gems are its least played tracks")
        plays = history.plays[positions]
        median = np.median(plays) if len(plays) else 0.0
        return positions[plays >= median], positions[plays < median]

    def _rank_history(self, positions: np.ndarray, source: str) -> RankedStream:
        history = self.history
        rows = history.rows[positions]
        score = np.log1p(history.plays[positions])
        if self.mood_weight is not None:
            score = score * self.mood_weight[rows]
        order = self._jittered_order(score, self._rng)
        position_of_row = dict(zip(rows.tolist(), positions.tolist()))
        latest = np.nanmax(history.last_played) if np.isfinite(history.last_played).any() else np.nan

        def describe(row: int, _score: float) -> str:
            position = position_of_row[row]
            plays = history.plays[position]
            if source == "gem" and np.isfinite(history.last_played[position]):
                days = (latest - history.last_played[position]) / SECONDS_PER_DAY
                return f"forgotten gem: played {plays:g} times, last {days:.0f} days ago"
            if source == "gem":
                return f"forgotten gem: one of your least played tracks ({plays:g} plays)"
            return f"favourite: played {plays:g} times"

        return RankedStream(rows[order], score[order], source, describe)

    def _rank_new_releases(self) -> RankedStream:
        catalogue = self.catalogue
        rows = np.flatnonzero(catalogue.is_new_release & self.allowed_mask)
        similarity = catalogue.vectors[rows] @ self.centres.T if len(rows) else np.zeros((0, 1))
        score = similarity.max(axis=1) if len(rows) else np.zeros(0)
        if self.mood_weight is not None:
            score = score * self.mood_weight[rows]
        order = self._jittered_order(score, self._rng)
        basis = "your taste" if len(self.history.rows) else "popular tracks"
        return RankedStream(
            rows[order], score[order], "new_release",
            lambda row, value: f"new release close to {basis} (score {value:.2f})",
        )

    def _rank_popular(self, mask: np.ndarray, rng: np.random.Generator) -> RankedStream:
        catalogue = self.catalogue
        rows = np.flatnonzero(mask)
        score = np.log1p(catalogue.popularity[rows])
        if self.mood_weight is not None:
            score = score * self.mood_weight[rows]
        order = self._jittered_order(score, rng)
        basis = f"popular with a high {self.mood!r} score" if self.mood else "popular"
        return RankedStream(
            rows[order], score[order], "discovery",
            lambda row, _score: f"{basis}: in {catalogue.popularity[row]:g} playlists",
        )

    def _jittered_order(self, score: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = rng.gumbel(size=len(score)) * self.config.jitter * (np.std(score) if len(score) > 1 else 0.0)
        return np.argsort(-(score + noise), kind="stable")

    # --- pages ----------------------------------------------------------------

    def page(self, number: int) -> FlowPage:
        """Return page `number` (0-based), generating the pages before it if needed."""
        with self._lock:
            while len(self._pages) <= number:
                if self._pages and self._pages[-1].exhausted:
                    return FlowPage(self.key, number, [], True, self.notes + ["this session has no more tracks"], self.start)
                self._pages.append(self._next_page(len(self._pages)))
            return self._pages[number]

    def _next_page(self, number: int) -> FlowPage:
        quotas = _quotas(self.config.shares, self.page_size)
        artist_counts: dict[str, int] = {}
        picked: list[list[PageItem]] = []
        for source in SOURCES:
            picked.append(self._take(source, quotas.get(source, 0), artist_counts))
        for source in ("discovery", "new_release", "favourite", "gem", "fill"):
            missing = self.page_size - sum(len(group) for group in picked)
            if missing <= 0:
                break
            picked.append(self._take(source, missing, artist_counts))
        for stream in self.streams.values():
            stream.end_page()
        items = _interleave(picked)

        exhausted = len(items) < self.page_size
        notes = list(self.notes)
        if exhausted:
            served = int(self._used.sum())
            scope = f"tracks with a {self.mood!r} score of at least {self.threshold:.2f}" if self.mood_mode == "filter" and self.mood else "tracks"
            notes.append(f"no more {scope} for this session after {served} tracks; this page is short")
        return FlowPage(self.key, number, items, exhausted, notes, self.start)

    def _take(self, source: str, count: int, artist_counts: dict[str, int]) -> list[PageItem]:
        stream = self.streams[source]
        artists = self.catalogue.artists
        taken: list[PageItem] = []
        while len(taken) < count:
            candidate = stream.next(self._used)
            if candidate is None:
                break
            row, score, kind, reason = candidate
            artist = artists[row]
            if artist and artist_counts.get(artist, 0) >= self.config.artist_cap:
                stream.defer(candidate)
                continue
            if artist:
                artist_counts[artist] = artist_counts.get(artist, 0) + 1
            self._used[row] = True
            nearest = self._nearest_history(row) if kind in ("discovery", "new_release") else None
            taken.append(PageItem(int(row), kind, reason, float(score), nearest))
        return taken

    def _nearest_history(self, row: int) -> int | None:
        rows = self.history.rows
        if len(rows) == 0:
            return None
        return int(rows[np.argmax(self.catalogue.vectors[rows] @ self.catalogue.vectors[row])])


def complete_request(request: FlowRequest, catalogue: Catalogue, config: FlowConfig) -> FlowRequest:
    """Validate `request` and fill its defaults from the config and the mood vocabulary."""
    mood_mode = request.mood_mode or config.mood_mode
    if mood_mode not in MOOD_MODES:
        raise FlowRequestError(f"invalid mood_mode {mood_mode!r}; choose one of {', '.join(MOOD_MODES)}")
    page_size = request.page_size or config.page_size
    if not 1 <= page_size <= config.max_page_size:
        raise FlowRequestError(f"invalid page_size {page_size}; use 1 to {config.max_page_size}")
    threshold = None
    if request.mood is not None:
        catalogue.vocabulary.check_mood(request.mood)
        threshold = request.threshold if request.threshold is not None else catalogue.vocabulary.threshold(request.mood)
        if not 0.0 <= threshold <= 1.0:
            raise FlowRequestError(f"invalid threshold {threshold}; mood scores are in [0, 1]")
    return replace(request, mood_mode=mood_mode, page_size=page_size, threshold=threshold)


def session_key(space_id: str, request: FlowRequest, config: FlowConfig) -> str:
    """Content hash of everything that determines a session's pages."""
    entries = sorted(
        (h.track_id, float(h.plays), None if h.last_played is None else float(h.last_played)) for h in request.history
    )
    described = {
        "space": space_id,
        "history": entries,
        "seed": int(request.seed),
        "mood": request.mood,
        "mode": request.mood_mode,
        "threshold": request.threshold,
        "page_size": request.page_size,
        "config": config.fingerprint(),
    }
    return content_hash([json.dumps(described, sort_keys=True)])


def _interleave(groups: list[list[PageItem]]) -> list[PageItem]:
    """Merge ranked groups so each is spread evenly over the page, keeping its own order.

    Item i of a group of n is placed at the fraction (i + 0.5) / n of the page.
    """
    keyed = [((i + 0.5) / len(group), g, item) for g, group in enumerate(groups) for i, item in enumerate(group)]
    return [item for _, _, item in sorted(keyed, key=lambda entry: (entry[0], entry[1]))]


def _quotas(shares: dict, page_size: int) -> dict[str, int]:
    """Split `page_size` slots by `shares` with the largest-remainder method."""
    total = sum(shares.values())
    exact = {s: page_size * shares.get(s, 0.0) / total for s in SOURCES}
    quotas = {s: int(v) for s, v in exact.items()}
    remainder = sorted(SOURCES, key=lambda s: (-(exact[s] - quotas[s]), SOURCES.index(s)))
    for s in remainder[: page_size - sum(quotas.values())]:
        quotas[s] += 1
    return quotas
