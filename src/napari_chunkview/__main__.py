"""``python -m napari_chunkview`` runs the ``chunkview`` command line."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
