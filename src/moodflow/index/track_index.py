"""`TrackIndex`: a Faiss index over a music space that returns external track ids."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from moodflow.errors import MoodflowError, SpaceMismatchError
from moodflow.index.rerank import CooccurrenceRerank
from moodflow.space.model import MusicSpace, UnknownTrackError, normalise_rows
from moodflow.tables import write_parquet_atomic

logger = logging.getLogger(__name__)

KINDS = ("flat", "hnsw", "ivf_flat", "ivf_pq")
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.parquet"
EXTRA_VECTORS_FILE = "extra_vectors.npy"
META_FILE = "index.json"

# Default parameters per kind. They reach recall@10 >= 0.95 against exact
# search on the Art of the Mix space (docs/benchmarks.md has the figures).
# ivf_pq re-ranks 40·k candidates exactly: with 10·k it reached only 0.72
# on 2 M generated clustered vectors, with 40·k 0.97.
DEFAULT_PARAMS: dict[str, dict] = {
    "flat": {},
    "hnsw": {"m": 32, "ef_construction": 100, "ef_search": 128},
    "ivf_flat": {"nlist": None, "nprobe": 32},
    "ivf_pq": {"nlist": None, "nprobe": 32, "pq_m": None, "pq_bits": 8, "refine_factor": 40},
}

# An allowed subset up to this size is searched exactly with one matrix
# product, which costs about subset x dim multiply-adds per query and is
# exact, so no approximate index is needed for it.
EXACT_SUBSET_MAX = 20_000

# Batches of at most this many queries are searched on one OpenMP thread.
SINGLE_THREAD_MAX_QUERIES = 16

# Faiss k-means wants about 39 training points per centroid.
POINTS_PER_CENTROID = 39


class IndexBuildError(MoodflowError):
    """The index cannot be built from the given kind, parameters or vectors."""


class IndexFileError(MoodflowError):
    """An index folder is missing files or cannot be read."""


def default_nlist(n_vectors: int) -> int:
    """Return 4·sqrt(n) inverted lists, capped so each centroid has enough training points."""
    return max(1, min(int(4 * math.sqrt(n_vectors)), n_vectors // POINTS_PER_CENTROID))


def default_pq_m(dim: int) -> int:
    """Return the largest divisor of `dim` that is at most dim / 4 (at least 1)."""
    for m in range(max(1, dim // 4), 0, -1):
        if dim % m == 0:
            return m
    return 1


class TrackIndex:
    """Nearest-neighbour search over the space vectors and optional extra rows.

    Scores are inner products of unit vectors (cosine similarity). Extra rows,
    such as projected new releases, are searched like space tracks and flagged
    by `is_extra`. Vectors that are NaN, infinite or zero are never indexed;
    their ids are listed in `skipped_ids`.
    """

    def __init__(
        self,
        space: MusicSpace,
        kind: str,
        params: dict,
        faiss_index: faiss.Index,
        ids: np.ndarray,
        extra: np.ndarray,
        vectors: np.ndarray,
        skipped_ids: list[str],
    ) -> None:
        self.space = space
        self.space_id = space.space_id
        self.kind = kind
        self.params = params
        self.faiss_index = faiss_index
        self.ids = ids
        self.extra = extra
        self.vectors = vectors
        self.skipped_ids = skipped_ids
        self._position = {track_id: position for position, track_id in enumerate(ids)}
        self._context_position_cache: np.ndarray | None = None

    # --------------------------------------------------------------- building

    @classmethod
    def build(
        cls,
        space: MusicSpace,
        kind: str = "hnsw",
        extra_ids: Sequence[str] | None = None,
        extra_vectors: np.ndarray | None = None,
        **params,
    ) -> TrackIndex:
        """Build an index of `kind` over the space vectors plus optional extra rows.

        `params` override `DEFAULT_PARAMS[kind]`. Extra vectors are
        normalised. Extra ids that are already in the space are rejected.
        """
        if kind not in KINDS:
            raise IndexBuildError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
        unknown = sorted(set(params) - set(DEFAULT_PARAMS[kind]))
        if unknown:
            raise IndexBuildError(
                f"unknown parameter(s) {unknown} for index kind {kind!r}; "
                f"allowed: {sorted(DEFAULT_PARAMS[kind])}"
            )
        params = {**DEFAULT_PARAMS[kind], **params}
        ids, extra, vectors, skipped = _collect_rows(space, extra_ids, extra_vectors)
        if len(ids) == 0:
            raise IndexBuildError(f"space {space.space_id} has no valid vectors to index")

        started = time.perf_counter()
        faiss_index, params = _make_faiss_index(kind, params, vectors)
        logger.info(
            "built %s index over %d vectors (%d extra, %d skipped) for space %s in %.1f s",
            kind, len(ids), int(extra.sum()), len(skipped), space.space_id, time.perf_counter() - started,
        )
        return cls(space, kind, params, faiss_index, ids, extra, vectors, skipped)

    # ----------------------------------------------------------------- lookup

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._position

    def is_extra(self, track_id: str) -> bool:
        """Return True when `track_id` is an extra row, False for a space track."""
        return bool(self.extra[self._position_of(track_id)])

    def _position_of(self, track_id: str) -> int:
        position = self._position.get(track_id)
        if position is None:
            if track_id in self.skipped_ids:
                raise UnknownTrackError(track_id, "its vector was NaN, infinite or zero and was not indexed")
            if track_id in self.space.cold_track_ids:
                self.space.row_of(track_id)  # raises with the cold reason
            raise UnknownTrackError(track_id, "not in the index (neither a space track nor an extra row)")
        return position

    def vector(self, track_id: str) -> np.ndarray:
        return self.vectors[self._position_of(track_id)]

    # ---------------------------------------------------------------- queries

    def search(
        self,
        vectors: np.ndarray,
        k: int,
        exclude: Collection[str] | Sequence[Collection[str]] | None = None,
        allowed: Collection[str] | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Return, for each query row of `vectors` [q, dim], up to k (track_id, score) pairs.

        Results are sorted by decreasing score and never contain padding, so a
        page is shorter than k only when fewer than k ids are eligible.
        `exclude` is one collection of ids for every query, or a sequence of q
        collections (one per query). `allowed` restricts results to a subset.
        """
        queries = self._check_queries(vectors)
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        excluded = self._excluded_positions(exclude, len(queries))

        if allowed is None:
            return self._search_all(queries, k, excluded)
        allowed_positions = np.unique(np.asarray(
            [self._position[track_id] for track_id in allowed if track_id in self._position], dtype=np.int64
        ))
        return self._search_subset(queries, k, excluded, allowed_positions)

    def neighbours(
        self, track_id: str, k: int, exclude: Collection[str] | None = None, allowed: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """Return the k nearest tracks to `track_id`, never `track_id` itself."""
        excluded = {track_id, *(exclude or ())}
        return self.search(self.vector(track_id)[None, :], k, exclude=excluded, allowed=allowed)[0]

    def search_history(
        self,
        history: Mapping[str, float] | Sequence[str] | Sequence[tuple[str, float]],
        k: int,
        exclude: Collection[str] | None = None,
        allowed: Collection[str] | None = None,
        exclude_history: bool = True,
        recency_half_life: float | None = None,
        rerank: CooccurrenceRerank | None = None,
    ) -> list[tuple[str, float]]:
        """Return the k nearest tracks to the space's user vector of `history`.

        The weighting is `MusicSpace.user_vector`'s. Tracks of the history are
        excluded unless `exclude_history` is False. With `rerank`, candidates
        are re-scored by cosine plus normalised co-occurrence with the
        history (`moodflow.index.rerank`), so scores are no longer cosines.
        """
        query = self.space.user_vector(history, recency_half_life=recency_half_life)
        excluded = set(exclude or ())
        if exclude_history:
            excluded |= {entry_id for entry_id, _ in MusicSpace._history_entries(history)}
        if rerank is None:
            return self.search(query[None, :], k, exclude=excluded, allowed=allowed)[0]
        return self._rerank(history, query, k, excluded, allowed, rerank)

    def _rerank(self, history, query, k, excluded, allowed, rerank: CooccurrenceRerank) -> list[tuple[str, float]]:
        """Re-score index candidates (and optionally co-occurrence partners); see `moodflow.index.rerank`."""
        page = self.search(query[None, :], max(k, rerank.candidates), exclude=excluded, allowed=allowed)[0]
        candidates = np.asarray([self._position[track_id] for track_id, _ in page], dtype=np.int64)

        columns, values = self.space.cooccurrence_row(history, normalise=rerank.normalise)
        partner_positions = self._context_positions()[columns]
        indexed = partner_positions >= 0
        partner_positions, values = partner_positions[indexed], values[indexed]
        if rerank.include_partners and len(partner_positions):
            eligible = ~np.isin(partner_positions, self._positions_of(excluded))
            if allowed is not None:
                eligible &= np.isin(partner_positions, self._positions_of(allowed))
            candidates = np.union1d(candidates, partner_positions[eligible])
        if len(candidates) == 0:
            return []

        # Look up each candidate's co-occurrence score among the partners (0 when absent).
        counts = np.zeros(len(candidates))
        if len(partner_positions):
            order = np.argsort(partner_positions)
            sorted_positions = partner_positions[order]
            slots = np.minimum(np.searchsorted(sorted_positions, candidates), len(sorted_positions) - 1)
            found = sorted_positions[slots] == candidates
            counts[found] = values[order][slots[found]]

        cosine = self.vectors[candidates] @ query
        largest = counts.max()
        boost = np.log1p(counts) / np.log1p(largest) if largest > 0 else np.zeros_like(counts)
        scores = cosine + rerank.weight * boost
        best = np.lexsort((candidates, -scores))[:k]
        return [(self.ids[candidates[i]], float(scores[i])) for i in best]

    def _positions_of(self, track_ids: Collection[str]) -> np.ndarray:
        """Return the index positions of the indexed ids among `track_ids`."""
        return np.asarray([self._position[t] for t in track_ids if t in self._position], dtype=np.int64)

    def _context_positions(self) -> np.ndarray:
        """Return the index position of each space context track, -1 when not indexed."""
        if self._context_position_cache is None:
            self._context_position_cache = np.asarray(
                [self._position.get(track_id, -1) for track_id in self.space.context_track_ids], dtype=np.int64
            )
        return self._context_position_cache

    # -------------------------------------------------------- query internals

    def _check_queries(self, vectors: np.ndarray) -> np.ndarray:
        queries = np.asarray(vectors, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or queries.shape[1] != self.vectors.shape[1]:
            raise MoodflowError(
                f"query vectors have shape {np.shape(vectors)}; expected [q, {self.vectors.shape[1]}]"
            )
        if not np.all(np.isfinite(queries)):
            raise MoodflowError("query vectors contain NaN or infinite values")
        return np.ascontiguousarray(queries)

    def _excluded_positions(self, exclude, n_queries: int) -> list[set[int]]:
        """Return one set of excluded index positions per query."""
        if exclude is None:
            return [set()] * n_queries
        exclude = list(exclude) if not isinstance(exclude, (set, frozenset)) else exclude
        per_query = (
            isinstance(exclude, list) and len(exclude) == n_queries and len(exclude) > 0
            and all(not isinstance(item, str) and isinstance(item, Collection) for item in exclude)
        )
        groups = exclude if per_query else [exclude] * n_queries
        shared: dict[int, set[int]] = {}
        result = []
        for group in groups:
            key = id(group)
            if key not in shared:
                shared[key] = {self._position[track_id] for track_id in group if track_id in self._position}
            result.append(shared[key])
        return result

    def _search_all(self, queries: np.ndarray, k: int, excluded: list[set[int]]) -> list[list[tuple[str, float]]]:
        # Exclusions are removed after the search, so fetch enough extra
        # candidates to still fill k results.
        fetch = min(len(self), k + max(len(group) for group in excluded))
        scores, labels = self._faiss_search(queries, fetch, None)
        results = []
        for row in range(len(queries)):
            page = self._page(labels[row], scores[row], excluded[row], k)
            eligible = len(self) - len(excluded[row])
            if len(page) < min(k, eligible):
                # NOTE: an approximate index can return fewer candidates than
                # requested (an IVF probe of sparse lists, an HNSW graph
                # region), so such a query is searched exactly.
                page = self._exact(queries[row], np.arange(len(self)), excluded[row], k)
            results.append(page)
        return results

    def _search_subset(
        self, queries: np.ndarray, k: int, excluded: list[set[int]], allowed: np.ndarray
    ) -> list[list[tuple[str, float]]]:
        if len(allowed) <= EXACT_SUBSET_MAX:
            return [self._exact(query, allowed, group, k) for query, group in zip(queries, excluded)]

        selector = faiss.IDSelectorBatch(allowed)
        fetch = min(len(allowed), k + max(len(group) for group in excluded))
        scores, labels = self._faiss_search(queries, fetch, selector)
        results = []
        for row in range(len(queries)):
            page = self._page(labels[row], scores[row], excluded[row], k)
            eligible = len(allowed) - len(excluded[row] & set(allowed.tolist()))
            if len(page) < min(k, eligible):
                # NOTE: filtered HNSW and IVF searches can miss allowed items
                # that are rare in the visited region. Such a query falls
                # back to exact search over the subset.
                page = self._exact(queries[row], allowed, excluded[row], k)
            results.append(page)
        return results

    def _faiss_search(self, queries: np.ndarray, fetch: int, selector) -> tuple[np.ndarray, np.ndarray]:
        """Search Faiss with the kind's query-time parameters, optionally filtered."""
        refine = int(self.params.get("refine_factor") or 1) if self.kind == "ivf_pq" else 1
        fetch_from_faiss = min(len(self), fetch * refine)
        if self.kind == "hnsw":
            parameters = faiss.SearchParametersHNSW(efSearch=max(int(self.params["ef_search"]), fetch_from_faiss))
        elif self.kind in ("ivf_flat", "ivf_pq"):
            parameters = faiss.SearchParametersIVF(nprobe=int(self.params["nprobe"]))
        else:
            parameters = faiss.SearchParameters()
        if selector is not None:
            parameters.sel = selector
        scores, labels = _search_with_threads(self.faiss_index, queries, fetch_from_faiss, parameters)
        if refine > 1:
            scores, labels = self._rescore_exactly(queries, labels, fetch)
        return scores, labels

    def _rescore_exactly(self, queries: np.ndarray, labels: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
        """Re-rank product-quantised candidates by their exact inner product."""
        safe = np.where(labels >= 0, labels, 0)
        exact = np.einsum("qd,qkd->qk", queries, self.vectors[safe])
        exact[labels < 0] = -np.inf
        order = np.argsort(-exact, axis=1, kind="stable")[:, :keep]
        return np.take_along_axis(exact, order, axis=1), np.take_along_axis(labels, order, axis=1)

    def _page(self, labels: np.ndarray, scores: np.ndarray, excluded: set[int], k: int) -> list[tuple[str, float]]:
        page = []
        for label, score in zip(labels, scores):
            if label < 0 or label in excluded:
                continue
            page.append((self.ids[label], float(score)))
            if len(page) == k:
                break
        return page

    def _exact(self, query: np.ndarray, positions: np.ndarray, excluded: set[int], k: int) -> list[tuple[str, float]]:
        """Return the exact top k among `positions`, minus `excluded`."""
        if excluded:
            positions = positions[~np.isin(positions, list(excluded))]
        if len(positions) == 0:
            return []
        scores = self.vectors[positions] @ query
        top = min(k, len(positions))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.lexsort((positions[best], -scores[best]))]
        return [(self.ids[positions[i]], float(scores[i])) for i in best]

    # ------------------------------------------------------------ persistence

    def save(self, folder: str | Path) -> Path:
        """Write the index to `folder`, e.g. a subfolder of its space folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.faiss_index, str(folder / INDEX_FILE))
        write_parquet_atomic(pd.DataFrame({"track_id": self.ids.astype(str), "is_extra": self.extra}), folder / IDS_FILE)
        np.save(folder / EXTRA_VECTORS_FILE, self.vectors[self.extra])
        meta = {
            "space_id": self.space_id,
            "kind": self.kind,
            "params": self.params,
            "n_vectors": len(self),
            "n_extra": int(self.extra.sum()),
            "skipped_ids": self.skipped_ids,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        logger.info("saved %s index for space %s to %s", self.kind, self.space_id, folder)
        return folder

    @classmethod
    def load(cls, folder: str | Path, space: MusicSpace) -> TrackIndex:
        """Read an index written by `save`; raises `SpaceMismatchError` for another space."""
        folder = Path(folder)
        missing = [name for name in (INDEX_FILE, IDS_FILE, EXTRA_VECTORS_FILE, META_FILE) if not (folder / name).exists()]
        if missing:
            raise IndexFileError(f"index folder {folder} is missing {missing}; rebuild it with `moodflow index build`")
        meta = json.loads((folder / META_FILE).read_text())
        if meta["space_id"] != space.space_id:
            raise SpaceMismatchError(f"the track index in {folder}", space.space_id, meta["space_id"])

        table = pd.read_parquet(folder / IDS_FILE)
        ids = table["track_id"].to_numpy(dtype=object)
        extra = table["is_extra"].to_numpy(dtype=bool)
        vectors = np.empty((len(ids), space.dim), dtype=np.float32)
        vectors[extra] = np.load(folder / EXTRA_VECTORS_FILE)
        vectors[~extra] = space.vectors[space.rows_of(ids[~extra])]
        faiss_index = faiss.read_index(str(folder / INDEX_FILE))
        if faiss_index.ntotal != len(ids):
            raise IndexFileError(
                f"index folder {folder}: {INDEX_FILE} has {faiss_index.ntotal} vectors but {IDS_FILE} "
                f"lists {len(ids)}; rebuild the index"
            )
        return cls(space, meta["kind"], meta["params"], faiss_index, ids, extra, vectors, meta["skipped_ids"])


def _search_with_threads(faiss_index: faiss.Index, queries: np.ndarray, fetch: int, parameters) -> tuple:
    """Search, on one OpenMP thread when the batch is small.

    For a few queries the OpenMP start-up and barrier cost more than the
    work: on a loaded 2-core machine a single flat query over 38k vectors ran
    at about 10 per second on 2 threads and 280 on one.
    """
    if len(queries) > SINGLE_THREAD_MAX_QUERIES:
        return faiss_index.search(queries, fetch, params=parameters)
    # omp_set_num_threads changes the calling thread's setting only, so
    # concurrent searches from other threads are unaffected.
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return faiss_index.search(queries, fetch, params=parameters)
    finally:
        faiss.omp_set_num_threads(previous)


def _collect_rows(
    space: MusicSpace, extra_ids: Sequence[str] | None, extra_vectors: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Return ids, extra flags and unit vectors of every row to index, and the skipped ids."""
    ids = [np.asarray(space.track_ids, dtype=object)]
    vectors = [space.vectors.astype(np.float32)]
    if extra_ids is not None or extra_vectors is not None:
        if extra_ids is None or extra_vectors is None:
            raise IndexBuildError("extra_ids and extra_vectors must be given together")
        extra_ids = np.asarray([str(track_id) for track_id in extra_ids], dtype=object)
        extra_vectors = np.asarray(extra_vectors, dtype=np.float32)
        if extra_vectors.ndim != 2 or extra_vectors.shape != (len(extra_ids), space.dim):
            raise IndexBuildError(
                f"extra_vectors has shape {extra_vectors.shape}; expected ({len(extra_ids)}, {space.dim})"
            )
        clashes = [track_id for track_id in extra_ids if track_id in space]
        if clashes or len(set(extra_ids)) != len(extra_ids):
            raise IndexBuildError(
                f"extra ids must be unique and not already in the space; offending ids: {clashes[:5] or 'duplicates'}"
            )
        ids.append(extra_ids)
        vectors.append(extra_vectors)
    extra = np.concatenate([np.zeros(len(space.track_ids), bool), np.ones(len(ids[1]) if len(ids) > 1 else 0, bool)])
    ids = np.concatenate(ids)
    vectors = np.concatenate(vectors)

    finite = np.all(np.isfinite(vectors), axis=1)
    safe = np.where(finite[:, None], vectors, 0.0)
    unit, nonzero = normalise_rows(safe)
    valid = finite & nonzero
    skipped = [str(track_id) for track_id in ids[~valid]]
    if skipped:
        logger.warning("skipped %d NaN, infinite or zero vectors, e.g. %s", len(skipped), skipped[:5])
    return ids[valid], extra[valid], np.ascontiguousarray(unit[valid], dtype=np.float32), skipped


def _make_faiss_index(kind: str, params: dict, vectors: np.ndarray) -> tuple[faiss.Index, dict]:
    """Create, train and fill a Faiss index; returns it with the resolved parameters."""
    n, dim = vectors.shape
    metric = faiss.METRIC_INNER_PRODUCT
    params = dict(params)
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, int(params["m"]), metric)
        index.hnsw.efConstruction = int(params["ef_construction"])
    else:
        params["nlist"] = int(params["nlist"] or default_nlist(n))
        quantizer = faiss.IndexFlatIP(dim)
        if kind == "ivf_flat":
            index = faiss.IndexIVFFlat(quantizer, dim, params["nlist"], metric)
        else:
            params["pq_m"] = int(params["pq_m"] or default_pq_m(dim))
            if dim % params["pq_m"]:
                raise IndexBuildError(f"pq_m={params['pq_m']} must divide the dimension {dim}")
            # Each sub-quantizer needs at least 2^bits training points.
            params["pq_bits"] = int(max(1, min(int(params["pq_bits"]), math.floor(math.log2(n)))))
            index = faiss.IndexIVFPQ(quantizer, dim, params["nlist"], params["pq_m"], params["pq_bits"], metric)
        index.cp.seed = 1234
        # k-means trains on at most 64 points per centroid (Faiss defaults to
        # 256), which cuts IVF training on millions of vectors by about 4x.
        index.cp.max_points_per_centroid = 64
        index.train(vectors)
    index.add(vectors)
    return index, params
