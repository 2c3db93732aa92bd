"""The read path under the dask arrays: chunk reads with events, one shared cache."""

from ._cache import CACHE, MISSING, ChunkCache
from ._dask import as_dask, attach, dask_chunks
from ._events import EVENTS, ChunkEvent, EventStream, LoadStats
from ._level_array import LevelArray, LevelView, settle, warm_up
from ._pool import shared_pool

__all__ = [
    "CACHE",
    "EVENTS",
    "MISSING",
    "ChunkCache",
    "ChunkEvent",
    "EventStream",
    "LevelArray",
    "LevelView",
    "LoadStats",
    "as_dask",
    "attach",
    "dask_chunks",
    "settle",
    "shared_pool",
    "warm_up",
]
