"""The `moodflow` command: one subcommand per pipeline stage.

Each subcommand lives in its stage's subpackage as a `main(argv) -> int`
function with its own argparse parser. This module only dispatches, importing
a stage when it is asked for so that `moodflow --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys

from moodflow.errors import MoodflowError

# Subcommand name -> ("module:function", one-line summary).
COMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": ("moodflow.tagger.evaluate:main", "evaluate a tagger bundle on a split and write a report"),
    "cv": ("moodflow.tagger.crossval:main", "artist-grouped k-fold cross-validation of the CNN and the baseline"),
    "tag": ("moodflow.tagging.cli:main", "batch-tag a folder or manifest of audio files with a tagger bundle"),
    "space": ("moodflow.space.cli:main", "build the collaborative music space from playlists"),
    "index": ("moodflow.index.cli:main", "build or query a Faiss index over a music space"),
    "coldstart": ("moodflow.coldstart.cli:main", "train or apply the cold-start projection for new releases"),
    "flow": ("moodflow.flow.cli:main", "score moods, print Flow and Flow Mood pages, draw the music map"),
    "serve": ("moodflow.service.cli:main", "serve Flow, neighbours, new releases and moods over HTTP"),
    "demo": ("moodflow.demo:main", "run the whole pipeline end to end on generated data"),
}


def _print_help() -> None:
    print("usage: moodflow COMMAND [OPTIONS]\n\ncommands:")
    width = max(len(name) for name in COMMANDS)
    for name, (_, summary) in COMMANDS.items():
        print(f"  {name:<{width}}  {summary}")
    print("\nRun `moodflow COMMAND --help` for the options of one command.")


def main(argv: list[str] | None = None) -> int:
    """Dispatch `argv` to a stage's `main` and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        _print_help()
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"moodflow: unknown command {name!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2

    module_name, function_name = COMMANDS[name][0].split(":")
    command = getattr(importlib.import_module(module_name), function_name)
    try:
        return int(command(rest) or 0)
    except MoodflowError as error:
        print(f"moodflow {name}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
