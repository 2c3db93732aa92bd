"""Multiscale conventions, tried in the order of ``CONVENTIONS`` (most specific first)."""

from ._base import Convention
from .plain import PlainGroup, SingleArray

CONVENTIONS: tuple[Convention, ...] = (
    PlainGroup(),
    SingleArray(),
)

__all__ = ["CONVENTIONS", "Convention"]
