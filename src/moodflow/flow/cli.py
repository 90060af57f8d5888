"""`moodflow flow`: build the mood table, or print Flow pages as a table.

    moodflow flow moods --space DIR --out moods.parquet [--valence-arousal CSV ...] [--playlists CSV] [--tags PARQUET]
    moodflow flow page --space DIR --moods moods.parquet --history TABLE [--mood chill] [--pages 2]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.flow.catalogue import load_catalogue
from moodflow.flow.engine import FlowEngine
from moodflow.flow.moods import DEFAULT_MOODS_CONFIG, MoodVocabulary, category_counts_from_playlists
from moodflow.flow.moodtable import build_mood_table, evaluate_predictor
from moodflow.flow.profile import HistoryEntry
from moodflow.flow.session import FlowRequest
from moodflow.logs import configure_logging
from moodflow.service.loading import load_flow_config, load_listeners
from moodflow.tables import TableError, read_table, write_parquet_atomic

logger = logging.getLogger(__name__)

DEFAULT_FLOW_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "flow.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moodflow flow", description="Mood tables and Flow pages.")
    parser.add_argument("--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_moods_parser(commands)
    _add_page_parser(commands)
    _add_map_parser(commands)
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    return args.run(args)


def _add_moods_parser(commands) -> None:
    moods = commands.add_parser("moods", help="score every track of a space for every mood and write moods.parquet")
    moods.add_argument("--space", required=True, help="space folder written by `moodflow space`")
    moods.add_argument("--out", required=True, help="output Parquet file")
    moods.add_argument("--moods-config", default=str(DEFAULT_MOODS_CONFIG), help="mood vocabulary YAML")
    moods.add_argument("--tags", help="tags.parquet from `moodflow tag` (file or part folder) with mood_<emotion> columns")
    moods.add_argument("--valence-arousal", nargs="*", default=[], help="tables with valence and arousal columns")
    moods.add_argument("--va-id-column", default="track_id", help="track id column of the valence/arousal tables, e.g. MSD_sng_id")
    moods.add_argument("--playlists", help="playlists table with playlist_id, category and the track id column")
    moods.add_argument("--playlist-id-column", default="song_id", help="track id column of the playlists table")
    moods.add_argument("--projections", help="projections.parquet: new releases get mood scores too")
    moods.add_argument("--evaluate", action="store_true", help="also report the valence/arousal predictor on 20%% held-out labelled tracks")
    moods.set_defaults(run=_run_moods)


def _add_page_parser(commands) -> None:
    page = commands.add_parser("page", help="print Flow (or Flow Mood) pages for a listener as a table")
    page.add_argument("--space", required=True, help="space folder written by `moodflow space`")
    page.add_argument("--moods", required=True, help="moods.parquet written by `moodflow flow moods`")
    page.add_argument("--index", help="index folder written by `moodflow index` (exact search without it)")
    page.add_argument("--projections", help="projections.parquet of new releases")
    page.add_argument("--metadata", help="table with track_id and title and/or artist")
    page.add_argument("--metadata-columns", nargs="*", default=[], metavar="SOURCE=TARGET",
                      help="rename metadata columns to track_id, title, artist, e.g. MSD_sng_id=track_id track_name=title")
    page.add_argument("--moods-config", default=str(DEFAULT_MOODS_CONFIG), help="mood vocabulary YAML")
    page.add_argument("--flow-config", default=str(DEFAULT_FLOW_CONFIG), help="Flow settings YAML")
    history_source = page.add_mutually_exclusive_group()
    history_source.add_argument("--history", help="history table: track_id[, plays][, last_played in Unix seconds]")
    history_source.add_argument("--tracks", help="comma-separated track ids, one play each")
    page.add_argument("--listeners", help="stored histories table (listener_id, track_id, ...) for --listener")
    page.add_argument("--listener", help="listener id in --listeners")
    page.add_argument("--mood", help="steer by this mood")
    page.add_argument("--mood-mode", choices=("filter", "rerank"), help="default from the Flow config")
    page.add_argument("--threshold", type=float, help="minimum mood score in filter mode (0 to 1)")
    page.add_argument("--seed", type=int, default=0, help="session seed: the same seed gives the same pages")
    page.add_argument("--pages", type=int, default=1, help="number of pages to print")
    page.add_argument("--page-size", type=int, help="tracks per page")
    page.add_argument("--plot", help="also draw the first page's mood scores as a heat map PNG here")
    page.set_defaults(run=_run_page)


def _add_map_parser(commands) -> None:
    music_map = commands.add_parser(
        "map", help="draw the music map (2-D projection coloured by mood) with a listener's taste and Flow path"
    )
    music_map.add_argument("--space", required=True, help="space folder written by `moodflow space`")
    music_map.add_argument("--moods", required=True, help="moods.parquet written by `moodflow flow moods`")
    music_map.add_argument("--index", help="index folder written by `moodflow index` (exact search without it)")
    music_map.add_argument("--projections", help="projections.parquet of new releases (marked on the map)")
    music_map.add_argument("--metadata", help="table with track_id and title and/or artist")
    music_map.add_argument("--moods-config", default=str(DEFAULT_MOODS_CONFIG), help="mood vocabulary YAML")
    music_map.add_argument("--flow-config", default=str(DEFAULT_FLOW_CONFIG), help="Flow settings YAML")
    history_source = music_map.add_mutually_exclusive_group(required=True)
    history_source.add_argument("--history", help="history table: track_id[, plays][, last_played in Unix seconds]")
    history_source.add_argument("--tracks", help="comma-separated track ids, one play each")
    history_source.add_argument("--listener", help="listener id in --listeners")
    music_map.add_argument("--listeners", help="stored histories table (listener_id, track_id, ...) for --listener")
    music_map.add_argument("--mood", help="draw the Flow Mood path for this mood instead of plain Flow")
    music_map.add_argument("--seed", type=int, default=0, help="seed of the Flow session and the projection")
    music_map.add_argument("--page-size", type=int, default=12, help="tracks of the Flow path")
    music_map.add_argument("--method", choices=("auto", "pca"), default="auto", help="auto: UMAP when installed, else PCA")
    music_map.add_argument("--max-points", type=int, default=5000, help="tracks drawn at most, besides the listener's")
    music_map.add_argument("--out", required=True, help="PNG file to write")
    music_map.set_defaults(run=_run_map)


def _run_map(args) -> int:
    from moodflow.flow.music_map import draw_listener_map

    vocabulary = MoodVocabulary.load(args.moods_config)
    catalogue = load_catalogue(args.space, args.moods, vocabulary, args.index, args.projections, args.metadata)
    history = _history_from_args(args)
    if not history:
        raise TableError("the music map needs a non-empty history (--history, --tracks or --listener)")
    title = f"Music map, listener {args.listener}" if args.listener else "Music map"
    path = draw_listener_map(
        catalogue, load_flow_config(args.flow_config), history, args.out, seed=args.seed,
        page_size=args.page_size, mood=args.mood, method=args.method, max_points=args.max_points, title=title,
    )
    print(f"wrote music map to {path}")
    return 0


def _run_moods(args) -> int:
    from moodflow.space import MusicSpace

    vocabulary = MoodVocabulary.load(args.moods_config)
    space = MusicSpace.load(args.space)
    track_ids = np.asarray(space.track_ids).astype(str)
    vectors = space.vectors
    if args.projections:
        projections = read_table(args.projections, ("track_id", "vector", "projectable"))
        projections = projections[projections["projectable"].astype(bool)]
        track_ids = np.concatenate([track_ids, projections["track_id"].astype(str).to_numpy()])
        vectors = np.concatenate([vectors, np.stack(projections["vector"].to_numpy()).astype(np.float32)])

    tags = _read_tags(args.tags) if args.tags else None
    valence_arousal = _read_valence_arousal(args.valence_arousal, args.va_id_column) if args.valence_arousal else None
    categories = None
    if args.playlists:
        playlists = read_table(args.playlists, ("playlist_id", "category", args.playlist_id_column))
        categories = category_counts_from_playlists(playlists, args.playlist_id_column)

    if args.evaluate and valence_arousal is not None:
        _print_predictor_report(vocabulary, track_ids, vectors, valence_arousal)
    table = build_mood_table(vocabulary, track_ids, vectors, space.space_id, tags, valence_arousal, categories)
    write_parquet_atomic(table, args.out)
    print(f"wrote {len(table)} tracks to {args.out}; sources: {table['source'].value_counts().to_dict()}")
    return 0


def _read_tags(path: str) -> pd.DataFrame:
    path = Path(path)
    if path.is_dir():
        return pd.read_parquet(path, columns=None)
    return read_table(path, ("track_id",))


def _read_valence_arousal(paths: list[str], id_column: str) -> pd.DataFrame:
    frames = [read_table(p, (id_column, "valence", "arousal")) for p in paths]
    frame = pd.concat(frames, ignore_index=True)
    return frame.rename(columns={id_column: "track_id"})[["track_id", "valence", "arousal"]]


def _print_predictor_report(vocabulary, track_ids, vectors, valence_arousal) -> None:
    row_of = {t: i for i, t in enumerate(track_ids)}
    labelled = valence_arousal.drop_duplicates("track_id")
    labelled = labelled[labelled["track_id"].astype(str).isin(row_of)]
    rows = np.array([row_of[t] for t in labelled["track_id"].astype(str)])
    values = labelled[["valence", "arousal"]].to_numpy(np.float32)
    for rescale in (False, True):
        report = evaluate_predictor(vectors[rows], values, vocabulary.predictor, rescale=rescale)
        kind = "rescaled to the labels' spread" if rescale else "raw"
        print(f"valence/arousal predictor ({kind}): {report.n_train} training tracks, {report.n_test} held out")
        for name in report.r2:
            print(
                f"  {name:8s} R2 {report.r2[name]:+.3f}  Pearson r {report.pearson[name]:+.3f}  "
                f"(mean predictor R2 {report.mean_predictor_r2[name]:+.3f})"
            )


def _run_page(args) -> int:
    vocabulary = MoodVocabulary.load(args.moods_config)
    bad = [item for item in args.metadata_columns if "=" not in item]
    if bad:
        raise TableError(f"invalid --metadata-columns {bad}; write SOURCE=TARGET, e.g. MSD_sng_id=track_id")
    columns = dict(item.split("=", 1) for item in args.metadata_columns)
    catalogue = load_catalogue(args.space, args.moods, vocabulary, args.index, args.projections, args.metadata, columns)
    engine = FlowEngine(catalogue, load_flow_config(args.flow_config), secret=b"moodflow-flow-cli")
    history = _history_from_args(args)
    request = FlowRequest(
        history=history, seed=args.seed, mood=args.mood, mood_mode=args.mood_mode,
        threshold=args.threshold, page_size=args.page_size,
    )
    cursor = None
    for number in range(args.pages):
        page = engine.flow_page(request, cursor)
        print(format_page(page, vocabulary.moods))
        if number == 0 and args.plot:
            from moodflow.flow.plots import plot_flow_mood_page

            plot_flow_mood_page(page, vocabulary.moods, args.plot)
            print(f"wrote mood heat map to {args.plot}")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return 0


def _history_from_args(args) -> tuple[HistoryEntry, ...]:
    if args.listener:
        if not args.listeners:
            raise TableError("--listener needs --listeners TABLE with the stored histories")
        listeners = load_listeners(args.listeners)
        if args.listener not in listeners:
            raise TableError(f"listener {args.listener!r} is not in {args.listeners}")
        return listeners[args.listener]
    if args.tracks:
        return tuple(HistoryEntry(t.strip()) for t in args.tracks.split(",") if t.strip())
    if args.history:
        table = read_table(args.history, ("track_id",))
        plays = table["plays"] if "plays" in table.columns else pd.Series(1.0, index=table.index)
        last = table["last_played"] if "last_played" in table.columns else pd.Series(float("nan"), index=table.index)
        return tuple(
            HistoryEntry(str(t), float(p), None if pd.isna(w) else float(w))
            for t, p, w in zip(table["track_id"], plays, last)
        )
    return ()


def format_page(page: dict, moods: list[str]) -> str:
    """Render a Flow page as a fixed-width text table."""
    header = f"session {page['session']}  page {page['page']}  start: {page['start']}  centres: {page['centres']}"
    if page["mood"]:
        header += f"  mood: {page['mood']} ({page['mood_mode']}, threshold {page['threshold']:.2f})"
    lines = [header] + [f"note: {n}" for n in page["notes"]]
    mood_heads = " ".join(f"{m[:5]:>5}" for m in moods)
    lines.append(f"{'#':>2}  {'title':28} {'artist':20} {mood_heads}  {'source':11} {'nearest history':18} reason")
    for i, track in enumerate(page["tracks"], 1):
        title = track["title"] or track["track_id"]
        scores = " ".join(f"{track['moods'][m]:5.2f}" for m in moods)
        nearest = track["nearest_history_track"] or "-"
        lines.append(
            f"{i:>2}  {_cut(title, 28):28} {_cut(track['artist'] or '-', 20):20} {scores}  "
            f"{track['source']:11} {_cut(nearest, 18):18} {track['reason']}"
        )
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
