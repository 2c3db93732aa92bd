"""Multiscale conventions, tried in the order of ``CONVENTIONS`` (most specific first).

COSEM comes before OME-NGFF (both use ``multiscales``; COSEM's form is recognised by keys
OME-NGFF never has), BigDataViewer before n5-viewer (a BDV timepoint group is an n5-viewer
pyramid of its own), n5-universe's canonical ``spatialTransform`` before both (its keys
are its own), and the plain fallbacks last.
"""

from ._base import Convention
from .bdv import Bdv
from .canonical import Canonical
from .cosem import Cosem
from .n5_viewer import N5Viewer
from .ome_ngff import OmeNgff
from .plain import PlainGroup, SingleArray

CONVENTIONS: tuple[Convention, ...] = (
    Cosem(),
    OmeNgff(),
    Canonical(),
    Bdv(),
    N5Viewer(),
    PlainGroup(),
    SingleArray(),
)

__all__ = ["CONVENTIONS", "Bdv", "Canonical", "Convention", "Cosem", "N5Viewer", "OmeNgff"]
