"""The chunk inspector's logic, shared by the napari dock and the notebook widget.

No GUI toolkit is imported here: ``ChunkController`` turns a ``Pyramid`` and a
``ViewState`` into what a ``ChunkView`` draws (levels table, hierarchy, chunk grid with
loading states, live figures); ``QCStep`` runs the quality checks for it on a worker
thread and hands the findings to a ``QCView``. The Qt views live in ``explorer._qt`` and
``explorer._qt_qc`` (imported only by the napari dock).
"""

from ._controller import ChunkController
from ._details import chunk_details, stored_size
from ._grid import (
    MAX_CELLS,
    STATE_LABELS,
    STATE_NAMES,
    GridCells,
    chunk_at,
    compute_cells,
    refresh_states,
)
from ._levels import COLUMNS, LevelRow, level_row
from ._live import Backlog, LiveFeed, ReadRecord
from ._qc import QCJob, QCStep, QCView
from ._qc_rows import QCRow, QCState, Target, locate
from ._state import ViewState, level_reason, store_root
from ._tree import AttrItem, TreeNode, attribute_items, known_tree, list_tree
from ._view import ChunkDetails, ChunkView, Header, LivePanel

__all__ = [
    "COLUMNS",
    "MAX_CELLS",
    "STATE_LABELS",
    "STATE_NAMES",
    "AttrItem",
    "Backlog",
    "ChunkController",
    "ChunkDetails",
    "ChunkView",
    "GridCells",
    "Header",
    "LevelRow",
    "LiveFeed",
    "LivePanel",
    "QCJob",
    "QCRow",
    "QCState",
    "QCStep",
    "QCView",
    "ReadRecord",
    "Target",
    "TreeNode",
    "ViewState",
    "attribute_items",
    "chunk_at",
    "chunk_details",
    "compute_cells",
    "known_tree",
    "level_reason",
    "level_row",
    "list_tree",
    "locate",
    "refresh_states",
    "store_root",
    "stored_size",
]
