"""The music space: one unit vector per warm track, its statistics and files."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from moodflow.errors import MoodflowError
from moodflow.hashing import content_hash
from moodflow.space.config import SpaceConfig
from moodflow.space.ppmi import ppmi_row
from moodflow.tables import write_parquet_atomic

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
SPACE_FILE = "space.json"
VECTORS_FILE = "vectors.npy"
COMPONENTS_FILE = "components.npy"
TRACKS_FILE = "tracks.parquet"
COOCCURRENCE_FILE = "cooccurrence.npz"

# Norms below this are treated as zero vectors (no direction to normalise).
ZERO_NORM = 1e-12


class UnknownTrackError(MoodflowError, KeyError):
    """A track id has no vector in the space (never seen, or cold)."""

    def __init__(self, track_id: str, reason: str) -> None:
        self.track_id = track_id
        self.reason = reason
        super().__init__(f"track {track_id!r} has no vector in the space: {reason}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class SpaceFileError(MoodflowError):
    """A space folder is missing files or its files are inconsistent."""


@dataclass(frozen=True)
class KeyedVectors:
    """Unit vectors `vectors[i]` for `keys[i]` (artists, albums, ...)."""

    keys: np.ndarray
    vectors: np.ndarray

    def vector(self, key: str) -> np.ndarray:
        matches = np.flatnonzero(self.keys == key)
        if len(matches) == 0:
            raise KeyError(f"{key!r} has no vector; {len(self.keys)} keys are known")
        return self.vectors[matches[0]]


def normalise_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return unit rows (zero rows stay zero) and a mask of the non-zero rows."""
    norms = np.linalg.norm(matrix, axis=1)
    nonzero = norms > ZERO_NORM
    result = np.zeros_like(matrix)
    result[nonzero] = matrix[nonzero] / norms[nonzero, None]
    return result, nonzero


class MusicSpace:
    """Track vectors learned from playlists, with what is needed to extend them.

    Attributes:
        space_id: content hash of the vectors, the track ids and the config.
        track_ids: ids of the warm tracks, one per row of `vectors` (str).
        vectors: float32 [n_tracks, dim], unit rows.
        track_counts: int64 [n_tracks], playlists containing each track.
        n_playlists: N of the PPMI formula (non-empty playlists in the build).
        config: the `SpaceConfig` of the build; `smoothing` and `shift` are the
            PPMI parameters.
        context_track_ids, context_counts: the context tracks (columns of the
            PPMI matrix) and their smoothed counts ĉ_j.
        components: float32 [n_contexts, dim], right singular vectors V.
        singular_values: float64 [dim].
        cooccurrence: int32 CSR [n_contexts, n_contexts], c_ij after the
            minimum-count and partner-cap filters.
        cold_track_ids, cold_reasons, cold_track_counts: tracks without a vector.
        artist_of, album_of: track id -> artist or album, when given.
    """

    def __init__(
        self,
        *,
        track_ids: np.ndarray,
        vectors: np.ndarray,
        track_counts: np.ndarray,
        n_playlists: int,
        config: SpaceConfig,
        context_track_ids: np.ndarray,
        context_counts: np.ndarray,
        context_playlist_counts: np.ndarray,
        components: np.ndarray,
        singular_values: np.ndarray,
        cooccurrence: sp.csr_matrix,
        cold_track_ids: np.ndarray,
        cold_reasons: np.ndarray,
        cold_track_counts: np.ndarray,
        artist_of: Mapping[str, str] | None = None,
        album_of: Mapping[str, str] | None = None,
        space_id: str | None = None,
    ) -> None:
        self.track_ids = np.asarray(track_ids, dtype=object)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.track_counts = np.asarray(track_counts, dtype=np.int64)
        self.n_playlists = int(n_playlists)
        self.config = config
        self.context_track_ids = np.asarray(context_track_ids, dtype=object)
        self.context_counts = np.asarray(context_counts, dtype=np.float64)
        self.context_playlist_counts = np.asarray(context_playlist_counts, dtype=np.int64)
        self.components = np.ascontiguousarray(components, dtype=np.float32)
        self.singular_values = np.asarray(singular_values, dtype=np.float64)
        self.cooccurrence = cooccurrence.tocsr()
        self.cold_track_ids = np.asarray(cold_track_ids, dtype=object)
        self.cold_reasons = np.asarray(cold_reasons, dtype=object)
        self.cold_track_counts = np.asarray(cold_track_counts, dtype=np.int64)
        self.artist_of = dict(artist_of or {})
        self.album_of = dict(album_of or {})
        self._row = {track_id: row for row, track_id in enumerate(self.track_ids)}
        self._context_column = {track_id: col for col, track_id in enumerate(self.context_track_ids)}
        self._cold_reason = dict(zip(self.cold_track_ids, self.cold_reasons))
        self.space_id = space_id or self._compute_space_id()

    @classmethod
    def from_vectors(cls, track_ids: Sequence[str], vectors: np.ndarray) -> MusicSpace:
        """Wrap given vectors in a space without playlist statistics.

        Meant for benchmarks and tests of the index on generated vectors.
        Rows are normalised. The co-occurrence matrix is empty and every
        context list is empty, so `fold_in_weights` returns no weights.
        """
        unit, _ = normalise_rows(np.asarray(vectors, dtype=np.float32))
        dim = unit.shape[1]
        return cls(
            track_ids=np.asarray([str(track_id) for track_id in track_ids], dtype=object),
            vectors=unit.astype(np.float32),
            track_counts=np.ones(len(unit), dtype=np.int64),
            n_playlists=0,
            config=SpaceConfig(dim=dim),
            context_track_ids=np.array([], dtype=object),
            context_counts=np.zeros(0),
            context_playlist_counts=np.zeros(0, dtype=np.int64),
            components=np.zeros((0, dim), dtype=np.float32),
            singular_values=np.ones(dim),
            cooccurrence=sp.csr_matrix((0, 0), dtype=np.int32),
            cold_track_ids=np.array([], dtype=object),
            cold_reasons=np.array([], dtype=object),
            cold_track_counts=np.zeros(0, dtype=np.int64),
        )

    # ----------------------------------------------------------------- basics

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    @property
    def smoothing(self) -> float:
        return self.config.smoothing

    @property
    def shift(self) -> float:
        return self.config.shift

    def __len__(self) -> int:
        return len(self.track_ids)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._row

    def _compute_space_id(self) -> str:
        return content_hash([
            self.vectors.tobytes(),
            "\n".join(self.track_ids),
            json.dumps(self.config.to_dict(), sort_keys=True),
        ])

    def row_of(self, track_id: str) -> int:
        """Return the row of `track_id` in `vectors`.

        Raises `UnknownTrackError` (a `MoodflowError` and a `KeyError`); its
        `reason` starts with "cold" for a cold track and otherwise states
        that the track was never in the playlists.
        """
        row = self._row.get(track_id)
        if row is not None:
            return row
        if track_id in self._cold_reason:
            raise UnknownTrackError(track_id, f"cold ({self._cold_reason[track_id]})")
        raise UnknownTrackError(track_id, "not in the playlists the space was built from")

    def rows_of(self, track_ids: Iterable[str]) -> np.ndarray:
        """Return the rows of the known tracks among `track_ids`, skipping the others."""
        rows = [self._row.get(track_id) for track_id in track_ids]
        return np.asarray([row for row in rows if row is not None], dtype=np.int64)

    def vector(self, track_id: str) -> np.ndarray:
        return self.vectors[self.row_of(track_id)]

    # -------------------------------------------------------- derived vectors

    def _grouped_vectors(self, group_of: Mapping[str, str]) -> KeyedVectors:
        """Average the vectors of the warm tracks sharing a group, then normalise."""
        groups = pd.Series([group_of.get(track_id) for track_id in self.track_ids], dtype=object)
        known = groups.notna().to_numpy()
        if not known.any():
            return KeyedVectors(np.array([], dtype=object), np.zeros((0, self.dim), np.float32))
        codes, keys = pd.factorize(groups[known], sort=True)
        sums = np.zeros((len(keys), self.dim), dtype=np.float64)
        np.add.at(sums, codes, self.vectors[known])
        unit, nonzero = normalise_rows(sums)
        return KeyedVectors(np.asarray(keys, dtype=object)[nonzero], unit[nonzero].astype(np.float32))

    def artist_vectors(self) -> KeyedVectors:
        """Return one unit vector per artist: the normalised mean of its warm tracks."""
        return self._grouped_vectors(self.artist_of)

    def album_vectors(self) -> KeyedVectors:
        """Return one unit vector per album: the normalised mean of its warm tracks."""
        return self._grouped_vectors(self.album_of)

    def playlist_vector(self, track_ids: Sequence[str]) -> np.ndarray:
        """Return the normalised mean of the vectors of the known tracks in `track_ids`.

        Unknown and cold tracks are skipped. Raises `UnknownTrackError` when
        none of the tracks has a vector.
        """
        return self.user_vector(list(track_ids))

    def user_vector(
        self,
        history: Mapping[str, float] | Sequence[str] | Sequence[tuple[str, float]],
        recency_half_life: float | None = None,
    ) -> np.ndarray:
        """Return a unit vector for a listening history.

        `history` is a sequence of track ids (each played once, oldest first),
        a sequence of (track_id, play_count) pairs, or a mapping of the same.
        A track with play count p weighs 1 + log(p), so repeated plays count
        sublinearly (p < 1 is treated as 1). With `recency_half_life` h, the
        j-th most recent entry (the last one has j = 0) is also multiplied by
        0.5^(j / h). Unknown and cold tracks are skipped; when none is known,
        `UnknownTrackError` is raised with the reason.
        """
        entries = self._history_entries(history)
        n_entries = len(entries)
        rows, weights = [], []
        for position, (track_id, play_count) in enumerate(entries):
            row = self._row.get(track_id)
            if row is None:
                continue
            weight = 1.0 + np.log(max(float(play_count), 1.0))
            if recency_half_life:
                weight *= 0.5 ** ((n_entries - 1 - position) / recency_half_life)
            rows.append(row)
            weights.append(weight)
        if not rows:
            first = entries[0][0] if entries else "<empty history>"
            raise UnknownTrackError(
                str(first), f"none of the {n_entries} history entries has a vector in the space"
            )
        combined = np.asarray(weights) @ self.vectors[np.asarray(rows)].astype(np.float64)
        unit, nonzero = normalise_rows(combined[None, :])
        if not nonzero[0]:
            raise UnknownTrackError(str(entries[0][0]), "the history vectors cancel out to zero")
        return unit[0].astype(np.float32)

    @staticmethod
    def _history_entries(history) -> list[tuple[str, float]]:
        if isinstance(history, Mapping):
            return [(str(track_id), float(count)) for track_id, count in history.items()]
        entries = []
        for item in history:
            if isinstance(item, str):
                entries.append((item, 1.0))
            else:
                track_id, count = item
                entries.append((str(track_id), float(count)))
        return entries

    def cooccurrence_row(
        self,
        history: Mapping[str, float] | Sequence[str] | Sequence[tuple[str, float]],
        normalise: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return context columns j and Σ_q w_q · c_qj for the tracks co-occurring with a history.

        c_qj is the stored co-occurrence count (after the build's minimum
        count and partner cap), and w_q the play-count weight 1 + log(p) of
        `user_vector`. With `normalise`, c_qj is replaced by the cosine
        c_qj / sqrt(c_q · c_j), which stops popular tracks from dominating.
        History tracks that are not contexts add nothing. Columns index
        `context_track_ids`.
        """
        columns, weights = [], []
        for track_id, play_count in self._history_entries(history):
            column = self._context_column.get(track_id)
            if column is not None:
                columns.append(column)
                weights.append(1.0 + np.log(max(play_count, 1.0)))
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        if normalise:
            weights = np.asarray(weights) / np.sqrt(self.context_playlist_counts[columns])
        selector = sp.csr_matrix(
            (weights, (np.zeros(len(columns), dtype=np.int64), columns)), shape=(1, len(self.context_track_ids))
        )
        summed = (selector @ self.cooccurrence).tocsr()
        values = summed.data.astype(np.float64)
        if normalise:
            values /= np.sqrt(self.context_playlist_counts[summed.indices])
        return summed.indices.astype(np.int64), values

    def cooccurrence_scores(
        self, history: Mapping[str, float] | Sequence[str] | Sequence[tuple[str, float]]
    ) -> dict[str, float]:
        """Return `cooccurrence_row` as a mapping of context track id -> score."""
        columns, values = self.cooccurrence_row(history)
        return {self.context_track_ids[j]: float(value) for j, value in zip(columns, values)}

    def projection_2d(self) -> np.ndarray:
        """Return a float32 [n_tracks, 2] PCA projection of the vectors (for maps)."""
        centred = self.vectors.astype(np.float64) - self.vectors.mean(axis=0)
        _, _, vt = np.linalg.svd(centred[: min(len(centred), 50_000)], full_matrices=False)
        return (centred @ vt[:2].T).astype(np.float32)

    # ---------------------------------------------------------------- fold-in

    def fold_in_weights(
        self, playlists: Sequence[Sequence[str]], track_id: str | None = None
    ) -> dict[str, float]:
        """Return the PPMI weights of the context tracks a new track co-occurs with.

        `playlists` are the new track's first playlists as sequences of track
        ids in position order. With the build's `window`, partners count only
        when they lie within the window of `track_id` in a playlist that
        contains it. The weights follow the build: c_t is the number of given
        playlists, c_tj the number containing context j, pairs below
        `min_pair_count` are dropped, only the `max_partners` largest c_tj are
        kept, and PPMI uses the build's N, ĉ_j, smoothing and shift. N and ĉ_j
        are not updated for the new playlists. Non-positive weights are left
        out of the result.
        """
        window = self.config.window
        partner_counts: dict[int, int] = {}
        n_given = 0
        for playlist in playlists:
            ordered = list(dict.fromkeys(str(item) for item in playlist))
            if not ordered:
                continue
            n_given += 1
            if window is not None and track_id is not None and track_id in ordered:
                centre = ordered.index(track_id)
                ordered = ordered[max(0, centre - window): centre + window + 1]
            for partner in ordered:
                column = self._context_column.get(partner)
                if column is not None and partner != track_id:
                    partner_counts[column] = partner_counts.get(column, 0) + 1
        if not partner_counts:
            return {}

        columns = np.fromiter(partner_counts.keys(), dtype=np.int64)
        counts = np.fromiter(partner_counts.values(), dtype=np.int64)
        keep = counts >= self.config.min_pair_count
        columns, counts = columns[keep], counts[keep]
        if self.config.max_partners and len(columns) > self.config.max_partners:
            order = np.lexsort((columns, -counts))[: self.config.max_partners]
            columns, counts = columns[order], counts[order]
        weights = ppmi_row(counts, self.context_counts[columns], n_given, self.n_playlists, self.shift)
        return {
            self.context_track_ids[column]: float(weight)
            for column, weight in zip(columns, weights) if weight > 0
        }

    def fold_in(self, weights: Mapping[str, float]) -> np.ndarray | None:
        """Project a PPMI row (context id -> weight) into the space.

        A PPMI row m maps to m · V · Σ^(alpha - 1), the same map that turns a
        build row into U·Σ^alpha. Returns a float32 unit vector, or None when
        no weight falls on a known context or the projection is zero.
        """
        columns, values = [], []
        for context_id, weight in weights.items():
            column = self._context_column.get(context_id)
            if column is not None and weight > 0:
                columns.append(column)
                values.append(weight)
        if not columns:
            return None
        projected = np.asarray(values) @ self.components[np.asarray(columns)].astype(np.float64)
        projected *= self.singular_values ** (self.config.alpha - 1.0)
        unit, nonzero = normalise_rows(projected[None, :])
        return unit[0].astype(np.float32) if nonzero[0] else None

    # ------------------------------------------------------------ persistence

    def save(self, folder: str | Path) -> Path:
        """Write the space to `folder` (created when missing) and return it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / VECTORS_FILE, self.vectors)
        np.save(folder / COMPONENTS_FILE, self.components)
        sp.save_npz(folder / COOCCURRENCE_FILE, self.cooccurrence)
        write_parquet_atomic(self._tracks_table(), folder / TRACKS_FILE)
        meta = {
            "format_version": FORMAT_VERSION,
            "space_id": self.space_id,
            "dim": self.dim,
            "n_tracks": len(self.track_ids),
            "n_cold_tracks": len(self.cold_track_ids),
            "n_contexts": len(self.context_track_ids),
            "n_playlists": self.n_playlists,
            "singular_values": self.singular_values.tolist(),
            "config": self.config.to_dict(),
        }
        (folder / SPACE_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        logger.info("saved space %s (%d tracks, dim %d) to %s", self.space_id, len(self), self.dim, folder)
        return folder

    def _tracks_table(self) -> pd.DataFrame:
        """Build the tracks table: tracks with vectors in row order, then the cold tracks."""
        all_ids = list(self.track_ids) + list(self.cold_track_ids)
        frame = pd.DataFrame({
            "track_id": pd.Series(all_ids, dtype=str),
            "row": np.concatenate([np.arange(len(self.track_ids)), -np.ones(len(self.cold_track_ids), np.int64)]),
            "playlist_count": np.concatenate([self.track_counts, self.cold_track_counts]),
            "cold_reason": pd.Series([None] * len(self.track_ids) + list(self.cold_reasons), dtype=object),
        })
        context_column = pd.Series(self._context_column, dtype=np.int64)
        frame["context_column"] = frame["track_id"].map(context_column).fillna(-1).astype(np.int64)
        frame["context_count"] = np.where(
            frame["context_column"] >= 0,
            self.context_counts[frame["context_column"].clip(lower=0)] if len(self.context_counts) else 0.0,
            np.nan,
        )
        frame["artist"] = frame["track_id"].map(self.artist_of)
        frame["album"] = frame["track_id"].map(self.album_of)
        return frame

    @classmethod
    def load(cls, folder: str | Path) -> MusicSpace:
        """Read a space written by `save`, checking its files and its space id."""
        folder = Path(folder)
        missing = [
            name for name in (SPACE_FILE, VECTORS_FILE, COMPONENTS_FILE, TRACKS_FILE, COOCCURRENCE_FILE)
            if not (folder / name).exists()
        ]
        if missing:
            raise SpaceFileError(f"space folder {folder} is missing {missing}; rebuild it with `moodflow space`")
        meta = json.loads((folder / SPACE_FILE).read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise SpaceFileError(
                f"space folder {folder} has format_version {meta.get('format_version')!r}; "
                f"this moodflow reads {FORMAT_VERSION}"
            )

        tracks = pd.read_parquet(folder / TRACKS_FILE)
        warm = tracks[tracks["row"] >= 0].sort_values("row")
        cold = tracks[tracks["row"] < 0]
        contexts = tracks[tracks["context_column"] >= 0].sort_values("context_column")
        metadata = {
            column: dict(zip(tracks["track_id"][tracks[column].notna()], tracks[column].dropna()))
            for column in ("artist", "album")
        }
        space = cls(
            track_ids=warm["track_id"].to_numpy(dtype=object),
            vectors=np.load(folder / VECTORS_FILE),
            track_counts=warm["playlist_count"].to_numpy(),
            n_playlists=meta["n_playlists"],
            config=SpaceConfig.from_dict(meta["config"]),
            context_track_ids=contexts["track_id"].to_numpy(dtype=object),
            context_counts=contexts["context_count"].to_numpy(),
            context_playlist_counts=contexts["playlist_count"].to_numpy(),
            components=np.load(folder / COMPONENTS_FILE),
            singular_values=np.asarray(meta["singular_values"]),
            cooccurrence=sp.load_npz(folder / COOCCURRENCE_FILE),
            cold_track_ids=cold["track_id"].to_numpy(dtype=object),
            cold_reasons=cold["cold_reason"].to_numpy(dtype=object),
            cold_track_counts=cold["playlist_count"].to_numpy(),
            artist_of=metadata["artist"],
            album_of=metadata["album"],
        )

        if space.space_id != meta["space_id"]:
            raise SpaceFileError(
                f"space folder {folder} records space id {meta['space_id']!r} but its files hash to "
                f"{space.space_id!r}; a file was changed or truncated, rebuild the space"
            )
        return space
