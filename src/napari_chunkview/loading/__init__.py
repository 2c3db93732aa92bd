"""The read path under the dask arrays."""

from ._dask import as_dask, attach, dask_chunks
from ._level_array import LevelArray

__all__ = ["LevelArray", "as_dask", "attach", "dask_chunks"]
