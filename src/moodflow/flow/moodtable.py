"""Build the catalogue's mood table from the best label source of each track.

Also trains and evaluates the regressor that predicts valence/arousal from
space vectors for tracks that have no other label source.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hydra.utils import instantiate

from moodflow.errors import MoodflowError
from moodflow.flow.moods import MoodVocabulary

logger = logging.getLogger(__name__)

VA_COLUMNS = ("valence", "arousal")


class MoodTableError(MoodflowError):
    """The inputs of the mood table are inconsistent."""


@dataclass
class PredictorReport:
    """Held-out quality of the valence/arousal regressor, per dimension."""

    n_train: int
    n_test: int
    r2: dict[str, float]
    pearson: dict[str, float]
    mean_predictor_r2: dict[str, float]


class ValenceArousalPredictor:
    """Regressor from a unit space vector to standardised [valence, arousal].

    Raw predictions of a neighbour average shrink towards the mean, which
    would put every predicted track near the centre of the valence/arousal
    plane. Predictions are therefore rescaled per dimension so that, on the
    training tracks, they have the mean and spread of the true labels.
    """

    def __init__(self, predictor_config: dict, rescale: bool = True) -> None:
        self.predictor_config = dict(predictor_config)
        self.rescale = rescale
        self.model = None
        self.scale = np.ones(2, dtype=np.float32)
        self.offset = np.zeros(2, dtype=np.float32)

    def fit(self, vectors: np.ndarray, valence_arousal: np.ndarray) -> ValenceArousalPredictor:
        if len(vectors) < 2:
            raise MoodTableError(f"need at least 2 labelled tracks to train the valence/arousal predictor, got {len(vectors)}")
        self.model = self._make_model(len(vectors))
        self.model.fit(vectors, valence_arousal)
        if not self.rescale:
            return self
        raw = np.asarray(self.model.predict(vectors), dtype=np.float32)
        # Leave-in predictions of a distance-weighted kNN reproduce the labels,
        # so calibrate on a second fit's out-of-fold view when possible.
        raw = self._out_of_fold(vectors, valence_arousal, raw)
        spread = raw.std(axis=0)
        self.scale = np.where(spread > 1e-6, valence_arousal.std(axis=0) / np.maximum(spread, 1e-6), 1.0).astype(np.float32)
        self.offset = (valence_arousal.mean(axis=0) - raw.mean(axis=0) * self.scale).astype(np.float32)
        return self

    def _make_model(self, n_samples: int):
        config = copy.deepcopy(self.predictor_config)
        if int(config.get("n_neighbors", 0)) > n_samples:
            logger.warning(
                "only %d labelled tracks: using n_neighbors=%d instead of %d", n_samples, n_samples, config["n_neighbors"]
            )
            config["n_neighbors"] = n_samples
        return instantiate(config)

    def _out_of_fold(self, vectors: np.ndarray, targets: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        if len(vectors) < 10:
            return fallback
        folds = np.arange(len(vectors)) % 2
        predictions = np.empty_like(fallback)
        for fold in (0, 1):
            model = self._make_model(int((folds != fold).sum()))
            model.fit(vectors[folds != fold], targets[folds != fold])
            predictions[folds == fold] = model.predict(vectors[folds == fold])
        return predictions

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise MoodTableError("the valence/arousal predictor is not trained; call fit() first")
        raw = np.asarray(self.model.predict(vectors), dtype=np.float32)
        return raw * self.scale + self.offset


def evaluate_predictor(
    vectors: np.ndarray,
    valence_arousal: np.ndarray,
    predictor_config: dict,
    test_fraction: float = 0.2,
    seed: int = 0,
    rescale: bool = True,
) -> PredictorReport:
    """Train on a random split of the labelled tracks and score the held-out part.

    R² is computed per dimension against the held-out labels; the mean
    predictor (the training mean) is the baseline, with R² close to 0.
    Rescaled predictions have the labels' spread, which costs R² when the
    correlation is weak; `rescale=False` scores the raw regressor.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(vectors))
    n_test = max(1, int(round(test_fraction * len(vectors))))
    test, train = order[:n_test], order[n_test:]
    predictor = ValenceArousalPredictor(predictor_config, rescale).fit(vectors[train], valence_arousal[train])
    predicted = predictor.predict(vectors[test])
    truth = valence_arousal[test]
    mean_prediction = valence_arousal[train].mean(axis=0)

    r2, pearson, mean_r2 = {}, {}, {}
    for j, name in enumerate(VA_COLUMNS):
        residual = ((truth[:, j] - predicted[:, j]) ** 2).sum()
        baseline = ((truth[:, j] - mean_prediction[j]) ** 2).sum()
        total = ((truth[:, j] - truth[:, j].mean()) ** 2).sum()
        r2[name] = float(1.0 - residual / total)
        mean_r2[name] = float(1.0 - baseline / total)
        pearson[name] = float(np.corrcoef(truth[:, j], predicted[:, j])[0, 1])
    return PredictorReport(len(train), len(test), r2, pearson, mean_r2)


def build_mood_table(
    vocabulary: MoodVocabulary,
    track_ids: np.ndarray,
    vectors: np.ndarray,
    space_id: str,
    tags: pd.DataFrame | None = None,
    valence_arousal: pd.DataFrame | None = None,
    category_counts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every track of the catalogue from its best available source.

    `tags` has `track_id` and `mood_<emotion>` columns; `valence_arousal` has
    `track_id, valence, arousal`; `category_counts` is indexed by track id
    with one column per playlist category. Tracks outside `track_ids` are
    ignored. Returns `track_id`, `mood_<mood>`..., `source`, `space_id`.
    """
    track_ids = np.asarray(track_ids).astype(str)
    if len(track_ids) != len(vectors):
        raise MoodTableError(f"{len(track_ids)} track ids but {len(vectors)} vectors")
    row_of = {track_id: row for row, track_id in enumerate(track_ids)}
    scores = np.zeros((len(track_ids), len(vocabulary.moods)), dtype=np.float32)
    source = np.full(len(track_ids), "", dtype=object)
    labelled_rows = np.zeros(0, dtype=np.int64)
    labelled_values = np.zeros((0, 2), dtype=np.float32)

    for name in vocabulary.source_priority:
        open_rows = source == ""
        if name == "tagger" and tags is not None:
            rows, frame = _rows_in_space(tags, row_of)
            emotions = frame.rename(columns=lambda c: c[len("mood_"):] if c.startswith("mood_") else c)
            _assign(scores, source, rows, vocabulary.from_emotions(emotions), name, open_rows)
        elif name == "valence_arousal" and valence_arousal is not None:
            rows, frame = _rows_in_space(valence_arousal, row_of)
            values = frame[list(VA_COLUMNS)].to_numpy(dtype=np.float32)
            finite = np.isfinite(values).all(axis=1)
            rows, values = rows[finite], values[finite]
            labelled_rows, labelled_values = rows, values
            _assign(scores, source, rows, vocabulary.from_valence_arousal(values), name, open_rows)
        elif name == "playlist_category" and category_counts is not None:
            known = category_counts.index.astype(str).isin(list(row_of))
            counts = category_counts[known]
            rows = np.array([row_of[t] for t in counts.index.astype(str)], dtype=np.int64)
            category_scores, usable = vocabulary.from_categories(counts)
            _assign(scores, source, rows[usable], category_scores[usable], name, open_rows)
        elif name == "predicted_valence_arousal" and len(labelled_rows) >= 2:
            missing = np.flatnonzero(source == "")
            if len(missing):
                predictor = ValenceArousalPredictor(vocabulary.predictor, vocabulary.rescale_predictions)
                predictor.fit(vectors[labelled_rows], labelled_values)
                predicted = predictor.predict(vectors[missing])
                _assign(scores, source, missing, vocabulary.from_valence_arousal(predicted), name, open_rows)

    unscored = int((source == "").sum())
    if unscored:
        logger.warning("%d of %d tracks have no mood source; their scores are 0 and source is 'none'", unscored, len(track_ids))
        source[source == ""] = "none"
    table = pd.DataFrame(scores, columns=vocabulary.columns)
    table.insert(0, "track_id", track_ids)
    table["source"] = source.astype(str)
    table["space_id"] = space_id
    logger.info("mood table: %d tracks, sources %s", len(table), table["source"].value_counts().to_dict())
    return table


def _rows_in_space(frame: pd.DataFrame, row_of: dict[str, int]) -> tuple[np.ndarray, pd.DataFrame]:
    if "track_id" not in frame.columns:
        raise MoodTableError(f"label table lacks a track_id column; found {list(frame.columns)}")
    frame = frame.drop_duplicates("track_id")
    frame = frame[frame["track_id"].astype(str).isin(list(row_of))]
    rows = np.array([row_of[t] for t in frame["track_id"].astype(str)], dtype=np.int64)
    return rows, frame


def _assign(scores, source, rows, values, name, open_rows) -> None:
    keep = open_rows[rows]
    scores[rows[keep]] = values[keep]
    source[rows[keep]] = name
