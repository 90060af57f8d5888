"""Plots of Flow pages."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

SOURCE_MARKS = {"favourite": "fav", "gem": "gem", "discovery": "new to you", "new_release": "new release"}


def plot_flow_mood_page(page: dict, moods: list[str], path: str | Path, title: str | None = None) -> Path:
    """Draw a Flow page's tracks x moods scores as a heat map PNG and return its path.

    `page` is a page as the engine returns it (`FlowEngine.flow_page`). The
    chosen mood's column, if any, is outlined; each row is labelled with the
    title, artist and why the track was chosen.
    """
    tracks = page["tracks"]
    if not tracks:
        raise ValueError("cannot plot an empty Flow page")
    scores = np.array([[track["moods"][m] for m in moods] for track in tracks])
    labels = [_label(track) for track in tracks]

    height = 1.6 + 0.36 * len(tracks)
    figure, axes = plt.subplots(figsize=(4.2 + 0.9 * len(moods), height), constrained_layout=True)
    image = axes.imshow(scores, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(moods)), labels=moods, rotation=30, ha="right")
    axes.set_yticks(range(len(tracks)), labels=labels, fontsize=8)
    axes.tick_params(top=False, labeltop=False)
    for (i, j), value in np.ndenumerate(scores):
        axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white" if value < 0.6 else "black")
    if page.get("mood") in moods:
        column = moods.index(page["mood"])
        axes.add_patch(plt.Rectangle((column - 0.5, -0.5), 1, len(tracks), fill=False, edgecolor="red", linewidth=2))
    colour_bar = figure.colorbar(image, ax=axes, fraction=0.05, pad=0.02)
    colour_bar.set_label("mood score (0 to 1)")

    if title is None:
        title = f"Flow Mood: {page['mood']} ({page['mood_mode']})" if page.get("mood") else "Flow"
        title += f", page {page['page']}"
    axes.set_title(title, fontsize=11)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _label(track: dict) -> str:
    name = track.get("title") or track["track_id"]
    if track.get("artist"):
        name = f"{name} - {track['artist']}"
    if len(name) > 38:
        name = name[:37] + "…"
    return f"{name} [{SOURCE_MARKS.get(track['source'], track['source'])}]"
