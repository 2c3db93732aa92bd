"""Quality checks and storage figures on a ``Pyramid``."""

from ._storage import Cancelled, StorageFigures, key_pattern, scan_storage

__all__ = ["Cancelled", "StorageFigures", "key_pattern", "scan_storage"]
