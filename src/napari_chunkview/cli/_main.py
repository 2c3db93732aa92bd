"""``chunkview`` entry point: argparse with one module per subcommand.

A subcommand module has ``register(subparsers)``, which adds its parser and sets
``run=<function(args) -> int>`` as a default. To add one, write the module and list it
in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from .. import __version__
from ..model import ChunkviewError
from . import _info, _qc, _view

SUBCOMMANDS: tuple[ModuleType, ...] = (_info, _qc, _view)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chunkview",
        description="Open N5 / Zarr / OME-Zarr pyramids lazily and see how they are stored.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chunkview`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(run(args))
    except (ChunkviewError, FileNotFoundError) as e:
        print(f"chunkview: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
