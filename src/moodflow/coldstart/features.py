"""Assembly of the optional content features of tracks into feature blocks.

Every feature is optional. A block stores a `[n_tracks, dim]` float32 array,
zero where the feature is absent, and a `[n_tracks]` presence mask, so
missingness is an explicit model input:

- `audio`: the tagger embedding followed by the mood and genre probabilities,
  read from the batch-tagging Parquet table;
- `artist`: the normalised mean space vector of the artist's warm tracks.
  For a warm track itself it is the mean of the artist's *other* warm
  tracks, so a training input never contains its own target;
- `usage`: the fold-in vector of the track's first playlists;
- `descriptors`: numeric metadata such as valence and arousal.

The two space-valued blocks also carry evidence columns that measure how much
their vector rests on: `log(1 + n)` for an artist mean over `n` warm
tracks, and the number of playlists a fold-in read. With them the model
can trust a fold-in of three playlists more than one of a single playlist.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from moodflow.coldstart.errors import AmbiguousArtistError, ColdStartError, EmbeddingSizeError
from moodflow.coldstart.foldin import fold_in

logger = logging.getLogger(__name__)

BLOCK_NAMES = ("audio", "artist", "usage", "descriptors")
# Blocks whose values are unit vectors of the music space itself.
SPACE_BLOCKS = ("artist", "usage")
AMBIGUOUS_ARTIST_POLICIES = ("skip", "error")


# Evidence columns of the space-valued blocks, in order.
EVIDENCE_COLUMNS = {"artist": ("log_artist_tracks",), "usage": ("usage_playlists",)}


@dataclass
class FeatureBlock:
    """One optional feature for a list of tracks.

    `values [n, dim]` and presence `[n]`; space-valued blocks also have
    `evidence [n, k]` (the `EVIDENCE_COLUMNS` of the block), zero where absent.
    """

    values: np.ndarray
    present: np.ndarray
    evidence: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])

    @property
    def evidence_dim(self) -> int:
        return 0 if self.evidence is None else int(self.evidence.shape[1])

    def take(self, rows) -> FeatureBlock:
        """Return the block restricted to `rows` (an index array or a boolean mask)."""
        evidence = None if self.evidence is None else self.evidence[rows]
        return FeatureBlock(self.values[rows], self.present[rows], evidence)


@dataclass
class FeatureTable:
    """The feature blocks of a list of tracks, with a note per track on skipped features."""

    track_ids: np.ndarray
    blocks: dict[str, FeatureBlock]
    notes: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.notes:
            self.notes = [[] for _ in range(len(self.track_ids))]

    def __len__(self) -> int:
        return len(self.track_ids)

    def features_used(self, index: int) -> str:
        """Return the present blocks of track `index` joined by '+', e.g. 'artist+usage'."""
        return "+".join(name for name in BLOCK_NAMES if name in self.blocks and self.blocks[name].present[index])

    def select(self, names: Sequence[str]) -> FeatureTable:
        """Return a copy in which only the blocks in `names` count as present."""
        blocks = {}
        for name, block in self.blocks.items():
            present = block.present if name in names else np.zeros_like(block.present)
            blocks[name] = FeatureBlock(block.values, present, block.evidence)
        return FeatureTable(self.track_ids, blocks, [list(note) for note in self.notes])


def absent_block(n_tracks: int, dim: int, evidence_dim: int = 0) -> FeatureBlock:
    """Return a block of `dim` columns (and `evidence_dim` evidence columns) in which no track has the feature."""
    evidence = np.zeros((n_tracks, evidence_dim), dtype=np.float32) if evidence_dim else None
    return FeatureBlock(np.zeros((n_tracks, dim), dtype=np.float32), np.zeros(n_tracks, dtype=bool), evidence)


def space_block(name: str, n_tracks: int, dim: int) -> FeatureBlock:
    """Return an empty space-valued block `name` with its evidence columns."""
    return absent_block(n_tracks, dim, len(EVIDENCE_COLUMNS[name]))


def concat_tables(tables: Sequence[FeatureTable]) -> FeatureTable:
    """Stack tables with the same blocks row-wise."""
    names = list(tables[0].blocks)
    blocks = {}
    for name in names:
        parts = [table.blocks[name] for table in tables]
        evidence = None if parts[0].evidence is None else np.concatenate([part.evidence for part in parts])
        blocks[name] = FeatureBlock(
            np.concatenate([part.values for part in parts]), np.concatenate([part.present for part in parts]), evidence
        )
    track_ids = np.concatenate([table.track_ids for table in tables])
    notes = [note for table in tables for note in table.notes]
    return FeatureTable(track_ids, blocks, notes)


# --- audio -----------------------------------------------------------------------------------


def audio_columns(tags: pd.DataFrame) -> list[str]:
    """Return the mood and genre probability columns of a tagging table, in table order."""
    return [column for column in tags.columns if column.startswith(("mood_", "genre_"))]


def audio_block(
    track_ids: Sequence[str],
    tags: pd.DataFrame | None,
    *,
    source: str,
    embedding_dim: int | None = None,
    label_columns: Sequence[str] | None = None,
) -> FeatureBlock:
    """Build the audio block from a tagging table (`track_id`, `embedding`, `mood_*`, `genre_*`).

    `embedding_dim` and `label_columns` fix the layout the model was trained
    on; a table whose embedding length differs raises `EmbeddingSizeError`
    naming `source`. Tracks absent from the table have no audio feature.
    """
    if tags is None:
        if embedding_dim is None or label_columns is None:
            raise ColdStartError("audio_block needs a tagging table or the trained layout")
        return absent_block(len(track_ids), embedding_dim + len(label_columns))

    embeddings = [np.asarray(value, dtype=np.float32) for value in tags["embedding"]]
    sizes = sorted({len(value) for value in embeddings})
    found = sizes[0] if sizes else 0
    if len(sizes) > 1:
        raise ColdStartError(f"embeddings in {source} have different lengths {sizes}; re-tag the tracks")
    if embedding_dim is not None and sizes and found != embedding_dim:
        raise EmbeddingSizeError(source, embedding_dim, found)
    embedding_dim = found if embedding_dim is None else embedding_dim

    label_columns = audio_columns(tags) if label_columns is None else list(label_columns)
    missing = [column for column in label_columns if column not in tags.columns]
    if missing:
        raise ColdStartError(
            f"tagging table {source} lacks the label column(s) {missing} the model was trained "
            f"with; tag the releases with the same tagger bundle"
        )

    matrix = np.zeros((len(tags), embedding_dim + len(label_columns)), dtype=np.float32)
    if len(tags):
        matrix[:, :embedding_dim] = np.stack(embeddings)
        matrix[:, embedding_dim:] = tags[label_columns].to_numpy(dtype=np.float32)
    row_of = {str(track_id): row for row, track_id in enumerate(tags["track_id"])}
    block = _gather(track_ids, row_of, matrix)
    # A track whose embedding or probabilities contain NaN or inf has no audio feature.
    finite = np.isfinite(block.values).all(axis=1)
    if (block.present & ~finite).any():
        logger.warning("%s: %d tracks have non-finite audio values; they get no audio feature",
                       source, int((block.present & ~finite).sum()))
    block.present &= finite
    block.values[~block.present] = 0.0
    return block


# --- descriptors -----------------------------------------------------------------------------


def descriptor_block(track_ids: Sequence[str], metadata: pd.DataFrame | None, columns: Sequence[str]) -> FeatureBlock:
    """Build the descriptor block from numeric metadata columns; a row with any NaN is absent."""
    if metadata is None or not columns:
        return absent_block(len(track_ids), len(columns))
    missing = [column for column in columns if column not in metadata.columns]
    if missing:
        raise ColdStartError(
            f"metadata table lacks descriptor column(s) {missing}; found {list(metadata.columns)}"
        )
    matrix = metadata[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
    row_of = {str(track_id): row for row, track_id in enumerate(metadata["track_id"])}
    block = _gather(track_ids, row_of, matrix)
    block.present &= np.isfinite(block.values).all(axis=1)
    block.values[~block.present] = 0.0
    return block


def _gather(track_ids: Sequence[str], row_of: Mapping[str, int], matrix: np.ndarray) -> FeatureBlock:
    block = absent_block(len(track_ids), matrix.shape[1])
    for index, track_id in enumerate(track_ids):
        row = row_of.get(str(track_id))
        if row is not None:
            block.values[index] = matrix[row]
            block.present[index] = True
    return block


# --- artist ----------------------------------------------------------------------------------


def normalize_artist_name(name: str) -> str:
    """Fold case and whitespace so that 'The  Beatles' and 'the beatles' match."""
    return " ".join(str(name).casefold().split())


class ArtistCatalogue:
    """Artist vectors from the warm tracks of a space.

    An artist is identified by `artist_id` when the metadata has that column,
    otherwise by its normalised name. A name that maps to several artist ids
    is ambiguous. By default (`on_ambiguous="skip"`) such a track gets no
    artist feature and a note that lists the ids. With `on_ambiguous="error"`
    the lookup raises `AmbiguousArtistError`.
    """

    def __init__(self, space, metadata: pd.DataFrame, on_ambiguous: str = "skip") -> None:
        if on_ambiguous not in AMBIGUOUS_ARTIST_POLICIES:
            raise ColdStartError(
                f"invalid on_ambiguous_artist {on_ambiguous!r}; use one of {AMBIGUOUS_ARTIST_POLICIES}"
            )
        self.space = space
        self.on_ambiguous = on_ambiguous
        self.key_of_track: dict[str, str] = {}
        self.ids_of_name: dict[str, set[str]] = defaultdict(set)
        for row in metadata.itertuples(index=False):
            name = getattr(row, "artist", None)
            if name is None or pd.isna(name) or not str(name).strip():
                continue
            artist_id = getattr(row, "artist_id", None)
            key = normalize_artist_name(name) if artist_id is None or pd.isna(artist_id) else str(artist_id)
            self.key_of_track[str(row.track_id)] = key
            self.ids_of_name[normalize_artist_name(name)].add(key)

        self.sums: dict[str, np.ndarray] = {}
        self.counts: dict[str, int] = defaultdict(int)
        for track_id, key in self.key_of_track.items():
            row = _space_row(space, track_id)
            if row is None:
                continue
            vector = space.vectors[row].astype(np.float64)
            self.sums[key] = self.sums[key] + vector if key in self.sums else vector.copy()
            self.counts[key] += 1
        logger.info("artist catalogue: %d artists with warm tracks", len(self.sums))

    def warm_block(self, track_ids: Sequence[str]) -> FeatureBlock:
        """Artist vectors of `track_ids`, each leaving the track itself out of its artist's mean.

        A listed track that has no vector in the space (one held out of the
        build) gets the mean of all its artist's warm tracks.
        """
        block = space_block("artist", len(track_ids), self.space.dim)
        for index, track_id in enumerate(track_ids):
            key = self.key_of_track.get(str(track_id))
            row = _space_row(self.space, track_id)
            others = self.counts.get(key, 0) - (row is not None)
            if key is None or others < 1:
                continue
            total = self.sums[key] - (self.space.vectors[row] if row is not None else 0.0)
            _set_unit(block, index, total, [np.log1p(others)])
        return block

    def release_block(
        self,
        track_ids: Sequence[str],
        names: Sequence[object],
        artist_ids: Sequence[object] | None = None,
    ) -> tuple[FeatureBlock, list[list[str]]]:
        """Artist vectors of new releases from their artist names (or ids), with notes."""
        block = space_block("artist", len(track_ids), self.space.dim)
        notes: list[list[str]] = [[] for _ in track_ids]
        for index, (track_id, name) in enumerate(zip(track_ids, names)):
            artist_id = None if artist_ids is None else artist_ids[index]
            if artist_id is not None and not pd.isna(artist_id):
                key = str(artist_id)
            elif name is None or pd.isna(name) or not str(name).strip():
                continue
            else:
                candidates = sorted(self.ids_of_name.get(normalize_artist_name(name), set()))
                if len(candidates) > 1:
                    if self.on_ambiguous == "error":
                        raise AmbiguousArtistError(str(track_id), str(name), candidates)
                    notes[index].append(f"artist name {name!r} matches {len(candidates)} artists {candidates}")
                    continue
                if not candidates:
                    notes[index].append(f"artist {name!r} has no warm track in the space")
                    continue
                key = candidates[0]
            if key in self.sums:
                _set_unit(block, index, self.sums[key], [np.log1p(self.counts[key])])
            else:
                notes[index].append(f"artist {key!r} has no warm track in the space")
        return block, notes


def _set_unit(block: FeatureBlock, index: int, vector: np.ndarray, evidence: Sequence[float]) -> None:
    norm = float(np.linalg.norm(vector))
    if np.isfinite(norm) and norm > 0.0:
        block.values[index] = vector / norm
        block.evidence[index] = evidence
        block.present[index] = True


def _space_row(space, track_id: str) -> int | None:
    return space.row_of(track_id) if track_id in space else None


# --- early usage -----------------------------------------------------------------------------


def playlists_by_track(
    playlists: pd.DataFrame, track_ids: Sequence[str] | None = None
) -> dict[str, list[list[str]]]:
    """Group a playlists table (`playlist_id`, `track_id`) into each track's playlists.

    A track's playlists keep the table's playlist order, which counts as the
    order in which they appeared. With `track_ids`, only those tracks are listed.
    """
    requested = None if track_ids is None else {str(track_id) for track_id in track_ids}
    members: dict[str, list[str]] = {}
    for playlist_id, group in playlists.groupby("playlist_id", sort=False):
        members[str(playlist_id)] = [str(track_id) for track_id in group["track_id"]]
    result: dict[str, list[list[str]]] = defaultdict(list)
    for tracks in members.values():
        for track_id in dict.fromkeys(tracks):
            if requested is None or track_id in requested:
                result[track_id].append(tracks)
    return result


def usage_block(
    space,
    track_ids: Sequence[str],
    playlists_of: Mapping[str, Sequence[Sequence[str]]],
    n_playlists: int,
    method: str = "mean",
) -> FeatureBlock:
    """Fold-in vectors from each track's first `n_playlists` playlists."""
    block = space_block("usage", len(track_ids), space.dim)
    for index, track_id in enumerate(track_ids):
        first = playlists_of.get(str(track_id), [])[:n_playlists]
        if not first:
            continue
        vector = fold_in(space, first, track_id=str(track_id), method=method)
        if vector is not None:
            block.values[index] = vector
            block.evidence[index] = [len(first)]
            block.present[index] = True
    return block
