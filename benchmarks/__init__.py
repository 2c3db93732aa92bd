"""Benchmarks of napari-chunkview against its anchors (see benchmarks/README.md)."""
