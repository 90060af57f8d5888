"""The catalogue Flow draws from: space vectors, new releases, moods, metadata.

`Catalogue` joins the music space (warm tracks), the projected new releases,
the mood table and optional titles and artists into aligned arrays. It checks
that every artifact was built for the same space, and runs nearest-vector
searches through a `moodflow.index.TrackIndex` or by exact search.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.errors import MoodflowError, SpaceMismatchError
from moodflow.flow.moods import MoodVocabulary
from moodflow.tables import read_table

logger = logging.getLogger(__name__)

# Allowed subsets (one per mood and threshold in use) whose vectors are kept.
SUBSET_CACHE_SIZE = 32
# Deeper searches (late pages of a long session) run exactly: an approximate
# index gains little when k is a large share of the catalogue.
INDEX_MAX_K = 1000


class UnknownTrackError(MoodflowError):
    """A request names a track id that is not in the catalogue."""

    def __init__(self, track_id: str) -> None:
        self.track_id = track_id
        super().__init__(f"unknown track id {track_id!r}; it is neither in the music space nor a projected new release")


@dataclass
class Catalogue:
    """Aligned per-track arrays; row i of every array describes `track_ids[i]`.

    `vectors` are float32 unit rows. `popularity` is the number of playlists
    containing the track (0 for new releases). `mood_scores` is [n, moods]
    in [0, 1]; tracks without a mood source have `mood_sources == "none"`.
    """

    space_id: str
    track_ids: np.ndarray
    vectors: np.ndarray
    vocabulary: MoodVocabulary
    mood_scores: np.ndarray
    mood_sources: np.ndarray
    popularity: np.ndarray
    is_new_release: np.ndarray
    artists: np.ndarray
    titles: np.ndarray
    index: object | None = None
    # history [(track_id, plays)] -> {track_id: Σ_q w_q · c_qj}, the space's
    # co-occurrence with a history (MusicSpace.cooccurrence_scores), if known.
    cooccurrence: Callable[[list[tuple[str, float]]], dict[str, float]] | None = None
    # Filtered searches over at most this many allowed rows run exactly in
    # numpy; larger ones go to the index with an allowed subset.
    exact_subset_max: int = 50_000
    _row_of: dict[str, int] = field(default_factory=dict, repr=False)
    _subsets: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _subset_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.track_ids = np.asarray(self.track_ids).astype(str)
        n = len(self.track_ids)
        for name in ("vectors", "mood_scores", "mood_sources", "popularity", "is_new_release", "artists", "titles"):
            if len(getattr(self, name)) != n:
                raise MoodflowError(f"catalogue array {name} has {len(getattr(self, name))} rows, expected {n}")
        self.vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        self._row_of = {track_id: row for row, track_id in enumerate(self.track_ids)}
        if len(self._row_of) != n:
            raise MoodflowError(f"catalogue has duplicate track ids ({n - len(self._row_of)} duplicates)")

    def __len__(self) -> int:
        return len(self.track_ids)

    def row_of(self, track_id: str) -> int | None:
        """Return the row of `track_id`, or None when it is unknown."""
        return self._row_of.get(str(track_id))

    def rows_of(self, track_ids) -> np.ndarray:
        """Return the row of each id in `track_ids`, -1 for unknown ids."""
        # A dict lookup per id beat pandas' Index.get_indexer here, which first
        # converts the ids to Arrow strings.
        lookup = self._row_of.get
        return np.fromiter((lookup(track_id, -1) for track_id in track_ids), dtype=np.int64)

    def require_row(self, track_id: str) -> int:
        row = self.row_of(track_id)
        if row is None:
            raise UnknownTrackError(track_id)
        return row

    def moods_of(self, row: int) -> dict[str, float]:
        return {m: round(float(s), 4) for m, s in zip(self.vocabulary.moods, self.mood_scores[row])}

    # --- search ---------------------------------------------------------------

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed_rows: np.ndarray | None = None,
        exclude_rows: np.ndarray | None = None,
        subset_key: Hashable | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the rows and inner products of the `k` nearest rows to `query` [d].

        Results are sorted by decreasing score, never padded, and contain
        fewer than `k` rows only when fewer candidates exist. `allowed_rows`
        restricts the candidates, `exclude_rows` removes some. Callers that
        search one allowed subset repeatedly (a mood and its threshold) pass
        a `subset_key`, so the subset's vectors are copied once and cached.
        """
        use_index = (
            self.index is not None
            and k <= INDEX_MAX_K
            and (allowed_rows is None or len(allowed_rows) > self.exact_subset_max)
        )
        if use_index:
            return self._search_index(query, k, allowed_rows, exclude_rows)
        return self._search_exact(query, k, allowed_rows, exclude_rows, subset_key)

    def _subset(self, allowed_rows: np.ndarray, subset_key: Hashable | None) -> tuple[np.ndarray, np.ndarray]:
        if subset_key is None:
            return allowed_rows, self.vectors[allowed_rows]
        with self._subset_lock:
            cached = self._subsets.get(subset_key)
            if cached is None:
                cached = (allowed_rows, np.ascontiguousarray(self.vectors[allowed_rows]))
                self._subsets[subset_key] = cached
                while len(self._subsets) > SUBSET_CACHE_SIZE:
                    self._subsets.popitem(last=False)
            else:
                self._subsets.move_to_end(subset_key)
        return cached

    def _search_exact(self, query, k, allowed_rows, exclude_rows, subset_key=None):
        query = np.asarray(query, dtype=np.float32)
        if allowed_rows is None:
            candidates = np.arange(len(self))
            scores = self.vectors @ query
        else:
            candidates, vectors = self._subset(np.asarray(allowed_rows, dtype=np.int64), subset_key)
            scores = vectors @ query
        if exclude_rows is not None and len(exclude_rows):
            scores[np.isin(candidates, exclude_rows)] = -np.inf
        valid = int(np.isfinite(scores).sum())
        k = min(k, valid)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((candidates[top], -scores[top]))]
        return candidates[top], scores[top]

    def _search_index(self, query, k, allowed_rows, exclude_rows):
        allowed = None if allowed_rows is None else [self.track_ids[r] for r in allowed_rows]
        exclude = None if exclude_rows is None else [self.track_ids[r] for r in exclude_rows]
        results = self.index.search(np.asarray(query, dtype=np.float32)[None, :], k, exclude=exclude, allowed=allowed)[0]
        rows, scores = [], []
        for track_id, score in results:
            row = self.row_of(track_id)
            if row is not None:
                rows.append(row)
                scores.append(score)
        return np.asarray(rows, dtype=np.int64), np.asarray(scores, dtype=np.float32)

    # --- construction ---------------------------------------------------------

    @classmethod
    def from_tables(
        cls,
        vocabulary: MoodVocabulary,
        space_id: str,
        track_ids: np.ndarray,
        vectors: np.ndarray,
        moods: pd.DataFrame,
        popularity: np.ndarray | None = None,
        projections: pd.DataFrame | None = None,
        metadata: pd.DataFrame | None = None,
        index: object | None = None,
        cooccurrence: Callable | None = None,
    ) -> Catalogue:
        """Join warm tracks, projected new releases, moods and metadata.

        Raises `SpaceMismatchError` when the mood table or the projections
        were built for another space. `metadata` is optional with
        `track_id` and any of `title`, `artist`.
        """
        track_ids = np.asarray(track_ids).astype(str)
        vectors = np.asarray(vectors, dtype=np.float32)
        popularity = np.zeros(len(track_ids)) if popularity is None else np.asarray(popularity, dtype=np.float64)
        is_new = np.zeros(len(track_ids), dtype=bool)

        if projections is not None and len(projections):
            _check_space(projections, space_id, "projections table")
            usable = projections[projections["projectable"].astype(bool)]
            skipped = len(projections) - len(usable)
            if skipped:
                logger.info("skipping %d new releases that could not be projected", skipped)
            usable = usable[~usable["track_id"].astype(str).isin(set(track_ids))]
            new_vectors = np.stack(usable["vector"].to_numpy()).astype(np.float32) if len(usable) else np.zeros((0, vectors.shape[1]), np.float32)
            norms = np.linalg.norm(new_vectors, axis=1, keepdims=True)
            new_vectors = new_vectors / np.maximum(norms, 1e-12)
            track_ids = np.concatenate([track_ids, usable["track_id"].astype(str).to_numpy()])
            vectors = np.concatenate([vectors, new_vectors])
            popularity = np.concatenate([popularity, np.zeros(len(usable))])
            is_new = np.concatenate([is_new, np.ones(len(usable), dtype=bool)])

        _check_space(moods, space_id, "mood table")
        mood_frame = moods.drop_duplicates("track_id").set_index(moods["track_id"].drop_duplicates().astype(str))
        mood_frame = mood_frame.reindex(track_ids)
        unscored = int(mood_frame["source"].isna().sum())
        if unscored:
            logger.warning(
                "%d of %d catalogue tracks (new releases included) are not in the mood table; they get mood "
                "scores of 0 and pass no Flow Mood filter. Rebuild it with `moodflow flow moods --projections ...`",
                unscored, len(track_ids),
            )
        missing_columns = [c for c in vocabulary.columns if c not in mood_frame.columns]
        if missing_columns:
            raise MoodflowError(f"mood table lacks column(s) {missing_columns}; rebuild it with `moodflow flow moods`")
        mood_scores = mood_frame[vocabulary.columns].fillna(0.0).to_numpy(dtype=np.float32)
        mood_sources = mood_frame["source"].fillna("none").astype(str).to_numpy()

        artists = np.full(len(track_ids), "", dtype=object)
        titles = np.full(len(track_ids), "", dtype=object)
        if metadata is not None and len(metadata):
            meta = metadata.drop_duplicates("track_id").set_index(metadata["track_id"].drop_duplicates().astype(str)).reindex(track_ids)
            if "artist" in meta.columns:
                artists = meta["artist"].fillna("").astype(str).to_numpy(dtype=object)
            if "title" in meta.columns:
                titles = meta["title"].fillna("").astype(str).to_numpy(dtype=object)

        return cls(
            space_id=space_id,
            track_ids=track_ids,
            vectors=vectors,
            vocabulary=vocabulary,
            mood_scores=mood_scores,
            mood_sources=mood_sources,
            popularity=popularity,
            is_new_release=is_new,
            artists=artists,
            titles=titles,
            index=index,
            cooccurrence=cooccurrence,
        )


def _check_space(frame: pd.DataFrame, space_id: str, what: str) -> None:
    if "space_id" not in frame.columns or frame.empty:
        return
    found = frame["space_id"].astype(str).unique()
    if len(found) != 1 or found[0] != space_id:
        raise SpaceMismatchError(what, space_id, ",".join(found))


def load_catalogue(
    space_folder: str | Path,
    moods_path: str | Path,
    vocabulary: MoodVocabulary,
    index_folder: str | Path | None = None,
    projections_path: str | Path | None = None,
    metadata_path: str | Path | None = None,
    metadata_columns: dict[str, str] | None = None,
) -> Catalogue:
    """Load the space (and optionally its index), moods, projections and metadata from files.

    `metadata_columns` maps the metadata table's column names to `track_id`,
    `title` and `artist`, e.g. {"MSD_sng_id": "track_id", "track_name": "title"}.
    """
    from moodflow.space import MusicSpace  # imported here: the space stage is optional for tests

    space = MusicSpace.load(space_folder)
    index = None
    if index_folder is not None:
        from moodflow.index import TrackIndex

        index = TrackIndex.load(index_folder, space)
    moods = read_table(moods_path, ("track_id", "source"))
    projections = None
    if projections_path is not None:
        projections = read_table(projections_path, ("track_id", "vector", "space_id", "projectable"))
    metadata = None
    if metadata_path is not None:
        columns = dict(metadata_columns or {})
        track_column = next((source for source, target in columns.items() if target == "track_id"), "track_id")
        metadata = read_table(metadata_path, (track_column,)).rename(columns=columns)
    if metadata is None:
        metadata = _space_metadata(space)
    popularity = getattr(space, "track_counts", None)
    return Catalogue.from_tables(
        vocabulary,
        space.space_id,
        space.track_ids,
        space.vectors,
        moods,
        popularity=popularity,
        projections=projections,
        metadata=metadata,
        index=index,
        cooccurrence=getattr(space, "cooccurrence_scores", None),
    )


def _space_metadata(space) -> pd.DataFrame | None:
    """Artist names from the space's metadata map, when it has one."""
    artist_of = getattr(space, "artist_of", None) or getattr(space, "artists", None)
    if isinstance(artist_of, dict) and artist_of:
        return pd.DataFrame({"track_id": list(artist_of), "artist": list(artist_of.values())})
    return None
