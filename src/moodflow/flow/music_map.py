"""The music map: a 2-D picture of the space coloured by dominant mood.

New releases placed by cold start are marked, and one listener's history,
taste centres and Flow path (the order of a Flow page) are drawn on top.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def project_2d(vectors: np.ndarray, seed: int = 0, method: str = "auto") -> tuple[np.ndarray, object, str]:
    """Fit a 2-D projection of `vectors` [n, d]; return (points [n, 2], fitted model, method name).

    `method` "auto" uses UMAP (cosine metric) when `umap-learn` is installed
    and there are at least 30 points for its neighbour graph, otherwise PCA;
    "pca" always uses PCA, which skips UMAP's compilation on first use (tens
    of seconds). The fitted model's `transform` places further vectors (taste
    centres) on the same map.
    """
    if method not in ("auto", "pca"):
        raise ValueError(f"invalid music map method {method!r}; use 'auto' or 'pca'")
    n = len(vectors)
    umap = None
    if method == "auto":
        try:
            import umap  # optional: the `bench` extra installs it
        except ImportError:
            logger.warning("umap-learn is not installed; the music map uses PCA (pip install umap-learn for UMAP)")
    if umap is not None and n >= 30:
        model = umap.UMAP(n_neighbors=min(15, n - 1), metric="cosine", random_state=seed, n_jobs=1)
        return model.fit_transform(vectors), model, "UMAP"

    from sklearn.decomposition import PCA

    model = PCA(n_components=2, random_state=seed)
    return model.fit_transform(vectors), model, "PCA"


def draw_music_map(
    vectors: np.ndarray,
    mood_scores: np.ndarray,
    moods: list[str],
    is_new_release: np.ndarray,
    png_path: str | Path,
    history_rows: np.ndarray | None = None,
    centres: np.ndarray | None = None,
    flow_rows: np.ndarray | None = None,
    seed: int = 0,
    title: str = "Music map",
    method: str = "auto",
) -> Path:
    """Draw the map into `png_path` and return the path.

    `vectors` [n, d] are unit rows, `mood_scores` [n, len(moods)] in [0, 1],
    `is_new_release` [n] booleans. `history_rows` and `flow_rows` index rows
    of `vectors`; `flow_rows` is drawn as a numbered path in page order.
    `centres` [k, d] are the listener's taste centres in the same space.
    `method` chooses the 2-D projection (see `project_2d`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, model, method_name = project_2d(np.asarray(vectors, dtype=np.float32), seed=seed, method=method)
    mood_scores = np.asarray(mood_scores)
    dominant = mood_scores.argmax(axis=1)
    # Tracks without any mood source have all-zero scores: grey, not the first mood.
    unscored = mood_scores.max(axis=1) <= 0
    new = np.asarray(is_new_release, dtype=bool)

    figure, axes = plt.subplots(figsize=(10, 8))
    colours = plt.get_cmap("tab10")
    for mood_index, mood in enumerate(moods):
        rows = np.flatnonzero((dominant == mood_index) & ~new & ~unscored)
        if len(rows):
            axes.scatter(points[rows, 0], points[rows, 1], s=14, alpha=0.6, color=colours(mood_index % 10), label=mood)

    if unscored.any():
        rows = np.flatnonzero(unscored & ~new)
        axes.scatter(points[rows, 0], points[rows, 1], s=10, alpha=0.4, color="lightgrey", label="no mood source")
    if new.any():
        star_colours = ["lightgrey" if unscored[i] else colours(dominant[i] % 10) for i in np.flatnonzero(new)]
        axes.scatter(
            points[new, 0], points[new, 1], s=110 if new.sum() <= 50 else 35, marker="*", color=star_colours,
            edgecolors="black", linewidths=0.8, label="new release (colour = mood)", zorder=4,
        )
    if history_rows is not None and len(history_rows):
        axes.scatter(
            points[history_rows, 0], points[history_rows, 1], s=40, facecolors="none", edgecolors="black",
            linewidths=0.8, label="listener history", zorder=3,
        )
    if centres is not None and len(centres):
        centre_points = model.transform(np.asarray(centres, dtype=np.float32))
        axes.scatter(
            centre_points[:, 0], centre_points[:, 1], s=220, marker="X", color="black",
            label="listener taste centre", zorder=5,
        )
    if flow_rows is not None and len(flow_rows):
        path = points[flow_rows]
        axes.plot(
            path[:, 0], path[:, 1], color="black", linestyle="--", linewidth=1.0, alpha=0.7, zorder=4,
            label="Flow path (page order)",
        )
        # Number only the first and last track of the path: the numbers of
        # neighbouring tracks in one cluster would print on top of each other.
        for number in sorted({1, len(path)}):
            x, y = path[number - 1]
            axes.annotate(
                "start" if number == 1 else f"track {number}", (x, y), fontsize=8, xytext=(8, 8),
                textcoords="offset points", bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8}, zorder=6,
            )

    axes.set_title(f"{title}\n{method_name} of {vectors.shape[1]}-d space vectors, coloured by dominant mood", fontsize=11)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    figure.tight_layout()

    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png_path, dpi=110)
    plt.close(figure)
    logger.info("wrote music map of %d tracks to %s", len(points), png_path)
    return png_path


def draw_listener_map(
    catalogue,
    flow_config,
    history,
    png_path: str | Path,
    *,
    seed: int = 0,
    page_size: int = 12,
    mood: str | None = None,
    method: str = "auto",
    max_points: int = 5000,
    title: str = "Music map",
) -> Path:
    """Draw the music map of `catalogue` with one listener's history, taste centres and first Flow page.

    `catalogue` is a `moodflow.flow.Catalogue`, `flow_config` a `FlowConfig`
    and `history` a sequence of `HistoryEntry`. Catalogues larger than
    `max_points` are drawn from a seeded random sample of that size, plus
    every history track and Flow track and at most `max_points // 20` new
    releases, so the picture stays readable and the projection fast.
    """
    from moodflow.flow.engine import FlowEngine
    from moodflow.flow.profile import taste_centres
    from moodflow.flow.session import FlowRequest

    page = FlowEngine(catalogue, flow_config, secret=b"moodflow-music-map").flow_page(
        FlowRequest(history=tuple(history), seed=seed, page_size=page_size, mood=mood)
    )
    known = [(catalogue.row_of(entry.track_id), entry.plays) for entry in history]
    known = [(row, plays) for row, plays in known if row is not None]
    history_rows = np.array([row for row, _ in known], dtype=np.int64)
    plays = np.array([plays for _, plays in known], dtype=np.float64)
    flow_rows = np.array([catalogue.row_of(track["track_id"]) for track in page["tracks"]], dtype=np.int64)

    centres = None
    if len(history_rows):
        centres, _, _ = taste_centres(
            catalogue.vectors[history_rows], np.log1p(plays), flow_config.max_centres,
            flow_config.min_tracks_per_centre, seed=seed, min_silhouette=flow_config.min_silhouette,
        )

    n = len(catalogue.track_ids)
    keep = np.arange(n)
    if n > max_points:
        rng = np.random.default_rng(seed)
        sample = rng.choice(n, size=max_points, replace=False)
        new_rows = np.flatnonzero(catalogue.is_new_release)
        if len(new_rows) > max_points // 20:
            new_rows = rng.choice(new_rows, size=max_points // 20, replace=False)
        always = np.concatenate([history_rows, flow_rows, new_rows])
        keep = np.unique(np.concatenate([sample, always]))
        logger.info("music map: drawing %d of %d tracks (a seeded sample plus the listener's tracks)", len(keep), n)
    position = {row: i for i, row in enumerate(keep)}

    return draw_music_map(
        catalogue.vectors[keep], catalogue.mood_scores[keep], catalogue.vocabulary.moods,
        catalogue.is_new_release[keep], png_path,
        history_rows=np.array([position[row] for row in history_rows], dtype=np.int64),
        centres=centres,
        flow_rows=np.array([position[row] for row in flow_rows], dtype=np.int64),
        seed=seed, title=title, method=method,
    )
