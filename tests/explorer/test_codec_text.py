"""``CodecInfo.describe`` / ``describe_chain``: the codec chain as the inspector shows it,
from hand-made chains and from the chains the format adapters produce."""

from __future__ import annotations

from pathlib import Path

import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.model import CodecInfo, describe_chain
from napari_chunkview.model._codecs import shape_text

BYTES_LE = CodecInfo("bytes", {"endian": "little"})


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        (CodecInfo("transpose", {"order": [0, 1, 3, 2]}), "transpose(0,1,3,2)"),
        (BYTES_LE, "bytes(le)"),
        (CodecInfo("bytes", {"endian": "big"}), "bytes(be)"),
        (CodecInfo("bytes", {}), "bytes"),
        (CodecInfo("zstd", {"level": 3, "checksum": False}), "zstd(3)"),
        (CodecInfo("zstd", {"level": 0, "checksum": True}), "zstd(0, checksum)"),
        (CodecInfo("gzip", {"level": 5}), "gzip(5)"),
        (CodecInfo("gzip", {"level": -1, "useZlib": True}), "gzip(-1, zlib)"),  # N5
        (CodecInfo("zlib", {"level": 1}), "zlib(1)"),
        (CodecInfo("crc32c", {}), "crc32c"),
        (
            CodecInfo("blosc", {"cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}),
            "blosc(lz4:5, shuffle)",
        ),  # numcodecs (zarr v2)
        (
            CodecInfo(
                "blosc",
                {
                    "cname": "zstd",
                    "clevel": 3,
                    "shuffle": "bitshuffle",
                    "typesize": 2,
                    "blocksize": 0,
                },
            ),
            "blosc(zstd:3, bitshuffle)",
        ),
        (
            CodecInfo("blosc", {"cname": "blosclz", "clevel": 9, "shuffle": 0}),
            "blosc(blosclz:9, noshuffle)",
        ),
        (CodecInfo("n5-block", {"mode": "default", "endian": "big"}), "n5-block(be)"),
        (CodecInfo("lz4", {"blockSize": 65536}), "lz4(block 65536)"),  # N5 lz4
        (CodecInfo("xz", {"preset": 6}), "xz(6)"),
        (CodecInfo("raw", {}), "raw"),
        (CodecInfo("numcodecs.zlib", {"level": 4}), "numcodecs.zlib(4)"),
        # codecs without a short form keep key=value
        (
            CodecInfo("fixedscaleoffset", {"offset": 1, "scale": 2, "dtype": "<f8"}),
            "fixedscaleoffset(offset=1, scale=2, dtype=<f8)",
        ),
    ],
)
def test_one_codec(codec: CodecInfo, text: str) -> None:
    assert codec.describe() == text


def _sharding(location: str, index: tuple[CodecInfo, ...]) -> CodecInfo:
    inner = (
        CodecInfo("transpose", {"order": [0, 1, 3, 2]}),
        BYTES_LE,
        CodecInfo("zstd", {"level": 3, "checksum": False}),
    )
    return CodecInfo(
        "sharding_indexed", {"chunk_shape": [4, 32, 32], "index_location": location}, inner, index
    )


def test_sharding_reads_as_the_inner_chain_inside_the_shard() -> None:
    sh = _sharding("start", (BYTES_LE, CodecInfo("crc32c")))
    assert describe_chain((sh,), (64, 64, 64)) == (
        "transpose(0,1,3,2) → bytes(le) → zstd(3) "
        "inside sharding(64³ of 4×32×32, index crc32c @start)"
    )
    # without the shard shape (the codec alone does not know it)
    assert sh.describe() == (
        "transpose(0,1,3,2) → bytes(le) → zstd(3) "
        "inside sharding(4×32×32 chunks, index crc32c @start)"
    )
    # a plain little-endian index says nothing about its codecs; a big-endian one does
    assert describe_chain((_sharding("end", (BYTES_LE,)),), (8, 64, 64)).endswith(
        "inside sharding(8×64×64 of 4×32×32, index @end)"
    )
    big = _sharding("end", (CodecInfo("bytes", {"endian": "big"}),))
    assert "index bytes(be) @end" in big.describe()


def test_shape_text_and_empty_chain() -> None:
    assert shape_text((64, 64, 64)) == "64³"
    assert shape_text((32, 32)) == "32²"
    assert shape_text((1, 64, 64)) == "1×64×64"
    assert shape_text((7,)) == "7"
    assert describe_chain(()) == "raw"


def test_chains_of_real_arrays(tmp_path: Path) -> None:
    from zarr.codecs import BloscCodec

    v3 = zarr.create_array(
        tmp_path / "v3.zarr",
        shape=(64, 64),
        chunks=(16, 16),
        shards=(32, 32),
        dtype="uint16",
        compressors=BloscCodec(cname="lz4", clevel=5),
    )
    v3[...] = 1
    lv = open_pyramid(tmp_path / "v3.zarr").levels[0]
    assert describe_chain(lv.codecs, lv.grid.shard_shape) == (
        "bytes(le) → blosc(lz4:5, shuffle) inside sharding(32² of 16², index crc32c @end)"
    )
    from numcodecs import Blosc

    v2 = zarr.create_array(
        tmp_path / "v2.zarr",
        shape=(10,),
        chunks=(5,),
        dtype="int8",
        zarr_format=2,
        compressors=Blosc("zstd", 2, Blosc.BITSHUFFLE),
    )
    v2[...] = 1
    lv = open_pyramid(tmp_path / "v2.zarr").levels[0]
    assert describe_chain(lv.codecs) == "blosc(zstd:2, bitshuffle)"
