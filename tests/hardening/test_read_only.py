"""Reading never writes: opening, browsing, inspecting and QC-ing every corpus dataset and
every hostile one leaves every byte, mtime and folder as it was, and works on stores that
cannot be written at all.

Three independent witnesses:

* a snapshot of the whole tree before and after (per file: size, mtime_ns, SHA-256; per
  folder: mtime_ns, which also changes when a file is created and removed again; per
  symlink: its target), so nothing is changed, created or deleted, by any code (Python,
  tensorstore's C++, ...);
* a ``sys.addaudithook`` that records every Python-level attempt to open a file under the
  watched roots for writing, or to create, rename, delete, chmod or touch anything there,
  from any thread: the flow must not even try;
* copies made read-only (``chmod -R a-w``; as root, whom permission bits do not stop, also
  a read-only bind mount) on which the same flow works and nothing surfaces an ``OSError``.

"The flow" is what a user does: ``open_pyramid``; napari's read path (``Level.array``, a
``LevelArray``) on a bounded view of every level; then, for every dataset or one of each
kind (``kind_of``), the dask path (``Level.data``) on the coarsest level, the inspector's
controller (storage scan, hierarchy listing, grid, one chunk's details, attributes) and
``run_qc`` with a small sample.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import numpy as np
import pytest

from napari_chunkview import ChunkviewError, UnsupportedError, open_pyramid
from napari_chunkview.explorer import ChunkController, ChunkView, ViewState
from napari_chunkview.formats import open_root
from napari_chunkview.model import Pyramid
from napari_chunkview.qc import run_qc

from ..corpus import CORPUS, manifest, record_path
from .hostile import HostileCase, build_hostile_corpus

#: Fraction of chunks QC reads per level (at least one chunk is read per level).
QC_SAMPLE = 0.01
#: Edge of the view read from each level along its last two axes (napari's 2D canvas).
VIEW = 64
#: Pyramids with more levels are opened and browsed only: QC plans each level (~20 ms), and
#: the 200-level hostile tree would cost seconds for nothing new.
MAX_DEEP_LEVELS = 32


# -- witnesses -----------------------------------------------------------------------------
Entry = tuple[Any, ...]


def snapshot(root: Path) -> dict[str, Entry]:
    """Everything under ``root`` (itself included), symlinks not followed: folders →
    ``("dir", mtime_ns)``, files → ``("file", size, mtime_ns, sha256)``, symlinks →
    ``("link", target)``."""
    out: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):  # never descends into symlinks
        out[dirpath] = ("dir", os.lstat(dirpath).st_mtime_ns)
        for name in [*filenames, *dirnames]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[path] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    digest = hashlib.file_digest(f, "sha256").hexdigest()
                out[path] = ("file", st.st_size, st.st_mtime_ns, digest)
    return out


def assert_same_tree(before: dict[str, Entry], after: dict[str, Entry]) -> None:
    created = sorted(after.keys() - before.keys())
    deleted = sorted(before.keys() - after.keys())
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    assert (created, deleted, changed) == ([], [], []), (
        f"created {created[:10]}, deleted {deleted[:10]}, changed {changed[:10]}"
    )


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: Audit events that change the file system, and which of their arguments are paths.
_CHANGING = {
    "os.mkdir": (0,),
    "os.rmdir": (0,),
    "os.remove": (0,),
    "os.rename": (0, 1),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.truncate": (0,),
    "os.symlink": (1,),
    "os.link": (1,),
    "os.chflags": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
    "shutil.copyfile": (1,),
    "shutil.copymode": (1,),
    "shutil.copystat": (1,),
    "shutil.move": (1,),
}


class WriteWatch:
    """Python-level attempts to change anything under the watched roots, from any thread.

    Built on ``sys.addaudithook`` (hooks cannot be removed: one hook per process, idle
    when nothing is watched). Written here because no library records attempted writes;
    the snapshot catches what does not go through Python (tensorstore's C++)."""

    _lock = threading.Lock()
    _roots: tuple[str, ...] = ()
    _seen: list[str] = []  # noqa: RUF012 - one shared record, guarded by _lock
    _installed = False

    @classmethod
    def _hook(cls, event: str, args: tuple[Any, ...]) -> None:
        roots = cls._roots
        if not roots:
            return
        if event == "open":
            path, _mode, flags = args
            if not isinstance(flags, int) or not flags & _WRITE_FLAGS:
                return
            paths: tuple[Any, ...] = (path,)
        elif event in _CHANGING:
            paths = tuple(args[i] for i in _CHANGING[event] if i < len(args))
        else:
            return
        for p in paths:
            if isinstance(p, int) or p is None:
                continue
            try:
                full = os.path.abspath(os.fsdecode(p))
            except (TypeError, ValueError):
                continue
            if any(full == r or full.startswith(r + os.sep) for r in roots):
                with cls._lock:
                    cls._seen.append(f"{event} {full}")

    @classmethod
    @contextlib.contextmanager
    def watching(cls, *roots: Path) -> Iterator[list[str]]:
        """Record attempts under ``roots`` in the yielded list while the block runs."""
        with cls._lock:
            if not cls._installed:
                sys.addaudithook(cls._hook)
                cls._installed = True
            cls._seen = []
            cls._roots = tuple(os.path.abspath(r) for r in roots)
        seen: list[str] = []
        try:
            yield seen
        finally:
            with cls._lock:
                cls._roots = ()
                seen.extend(cls._seen)


# -- the flow ------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What the flow met: ChunkviewErrors per step (expected for hostile data) and
    OSErrors (never expected: a read-only store must not matter)."""

    opened: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    os_errors: list[str] = field(default_factory=list)
    failed_chunks: int = 0
    deep: int = 0


def view_box(shape: tuple[int, ...], edge: int = VIEW) -> tuple[slice, ...]:
    """napari's 2D view: one index along the leading axes, ``edge``² around the centre."""
    box = []
    for i, n in enumerate(shape):
        if i < len(shape) - 2:
            box.append(slice(n // 2, n // 2 + 1) if n else slice(0, 0))
        else:
            lo = max(0, n // 2 - edge // 2)
            box.append(slice(lo, min(n, lo + edge)))
    return tuple(box)


def browse(pyramid: Pyramid) -> int:
    """Read a bounded view of every level (napari's path). Returns the number of chunks
    flagged as failed."""
    failed = 0
    for sub in pyramid.walk():
        # every stored level, and the coarsest (napari's thumbnail and 3D view) when it is
        # computed (a virtual level's view reads up to VIEW² stored chunks: ~0.3 s each)
        stored = list(sub.stored_levels)
        for level in stored + [lv for lv in sub.levels[-1:] if lv not in stored]:
            np.asarray(level.array[view_box(level.shape)])
            failed += len(level.array.failures)
    return failed


def browse_dask(pyramid: Pyramid) -> None:
    """A user's path: a view of each image's coarsest level through dask (``Level.data``)."""
    for sub in pyramid.walk():
        coarsest = sub.levels[-1]
        np.asarray(coarsest.data[view_box(coarsest.shape, 16)].compute())


def inspect(pyramid: Pyramid) -> None:
    """The chunk inspector without its GUI: levels table and storage scan, hierarchy
    listing, the grid of a view, one chunk's details (stored size), node attributes."""
    view = MagicMock(spec=ChunkView)
    view.call_in_main.side_effect = lambda fn: fn()
    ctl = ChunkController(view)
    try:
        ctl.show(pyramid, title="read-only")
        assert ctl.wait(30), "the inspector's background work did not finish"
        level = pyramid.levels[0]
        nd = len(level.shape)
        if nd >= 2:
            box = tuple((s.start, s.stop) for s in view_box(level.shape))
            ctl.set_view(ViewState(level=0, box=box, axes=(nd - 2, nd - 1)))
            ctl.click(0, tuple(float(s.start) for s in view_box(level.shape)))
        assert ctl.wait(30), "the inspector's chunk look-up did not finish"
        if ctl.tree is not None:
            for node in ctl.tree.walk()[:8]:
                ctl.select_node(node.path)
    finally:
        ctl.close()


def kind_of(pyramid: Pyramid, path: str) -> tuple[Any, ...]:
    """What makes datasets alike for the inspector and QC: format, convention, container
    (zip or folder), codec chain, levels, dtype kind, labels."""
    level = pyramid.levels[0]
    return (
        pyramid.provenance.format,
        pyramid.provenance.convention,
        ".zip" in path,
        tuple(c.name for c in level.codecs),
        len(pyramid.levels) > 1,
        pyramid.dtype.kind,
        len(pyramid.walk()),
    )


def run_flow(paths: list[str], out: Outcome, deep: str = "all") -> None:
    """Open and browse each path, and inspect and QC it (``deep``: "all", "one per kind"
    — the first dataset of each ``kind_of`` — or "none"). Records ChunkviewErrors; fails
    on anything else except OSErrors, which are recorded (then asserted absent)."""
    kinds: set[tuple[Any, ...]] = set()
    for path in paths:
        pyramid = _step(out, path, "open", lambda p=path: open_pyramid(p))
        if pyramid is None:
            continue
        out.opened += 1
        out.failed_chunks += _step(out, path, "browse", lambda p=pyramid: browse(p)) or 0
        kind = kind_of(pyramid, path)
        if len(pyramid.levels) > MAX_DEEP_LEVELS:
            continue
        if deep == "all" or (deep == "one per kind" and kind not in kinds):
            kinds.add(kind)
            out.deep += 1
            _step(out, path, "dask", lambda p=pyramid: browse_dask(p))
            _step(out, path, "inspect", lambda p=pyramid: inspect(p))
            _step(out, path, "qc", lambda p=pyramid: run_qc(p, sample=QC_SAMPLE, workers=2))


def _step(out: Outcome, path: str, step: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ChunkviewError as e:
        out.refused[path] = f"{step}: {e}"
        if isinstance(e.__cause__, OSError) or "Read-only file system" in str(e):
            out.os_errors.append(f"{path} ({step}): {e}")
    except OSError as e:
        out.os_errors.append(f"{path} ({step}): {type(e).__name__}: {e}")
    return None


def corpus_paths(root: Path = CORPUS) -> list[str]:
    """Every array record and every group of the corpus manifest, as paths under ``root``."""
    paths = {record_path(r) for r in manifest()["records"]}
    paths |= {str(CORPUS / g["path"].replace("::", "/")) for g in manifest()["groups"]}
    return sorted(str(root / os.path.relpath(p, CORPUS)) for p in paths)


# -- read-only copies ----------------------------------------------------------------------
def make_read_only(folder: Path) -> Callable[[], None]:
    """``chmod -R a-w`` on ``folder``; as root also a read-only bind mount of ``folder`` on
    itself. Returns the undo. Skips the test when writes cannot be prevented here."""
    subprocess.run(["chmod", "-R", "a-w", str(folder)], check=True)
    mounted = False

    def undo() -> None:
        if mounted:  # lazily: stores still cached may hold files open (a zip store)
            subprocess.run(["umount", "--lazy", str(folder)], check=True)
        subprocess.run(["chmod", "-R", "u+w", str(folder)], check=True)

    if os.geteuid() == 0 and shutil.which("mount"):
        bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
        if bind.returncode == 0:
            mounted = True
            subprocess.run(
                ["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True
            )
    probe = folder / "probe-write"
    try:
        probe.write_bytes(b"x")
    except OSError:
        return undo
    probe.unlink()
    undo()
    pytest.skip(
        "cannot make a folder read-only here: running as root (permission bits do not "
        "stop root) without the right to mount it read-only"
    )


@pytest.fixture(scope="module")
def hostile_ro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list]]:
    """The shared hostile corpus, plus the cases of this module, built once and then made
    read-only."""
    root = tmp_path_factory.mktemp("hostile-ro")
    cases: list[Any] = [*build_hostile_corpus(root / "shared"), *pickle_cases(root / "pickle")]
    undo = make_read_only(root)
    try:
        yield root, cases
    finally:
        undo()


# -- pickle: the one codec that would run code from the store -------------------------------
SENTINEL = "unpickled-code-ran"


class _RunsCode:
    """Unpickling this creates ``SENTINEL`` beside the dataset: proof that code ran."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.target, "w"))


def pickle_cases(root: Path) -> list[HostileCase]:
    """zarr v2 ``|O`` and ``|u1`` arrays with a ``pickle`` filter and a zarr v3 array with
    ``numcodecs.pickle``, each chunk a pickle whose loading would create a file. The
    chunks are pickled by ``pickle`` itself, the writer numcodecs' ``Pickle`` codec uses."""
    import json

    root.mkdir(parents=True)
    target = root.parent / SENTINEL
    out = []
    for name, dtype in (("v2-object", "|O"), ("v2-uint8", "|u1")):
        p = root / f"{name}.zarr"
        p.mkdir()
        doc = {
            "zarr_format": 2, "shape": [2], "chunks": [2], "dtype": dtype, "order": "C",
            "compressor": None, "fill_value": None if dtype == "|O" else 0,
            "filters": [{"id": "pickle"}],
        }  # fmt: skip
        (p / ".zarray").write_text(json.dumps(doc))
        (p / "0").write_bytes(pickle.dumps(np.array([_RunsCode(target), 1], dtype=object)))
        out.append(HostileCase(f"pickle/{name}", p, "chunk", "error", "pickle"))
    p = root / "v3-numcodecs-pickle.zarr"
    (p / "c").mkdir(parents=True)
    doc = {
        "zarr_format": 3, "node_type": "array", "shape": [2], "data_type": "uint8",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
        "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
        "codecs": [{"name": "bytes"}, {"name": "numcodecs.pickle"}],
    }  # fmt: skip
    (p / "zarr.json").write_text(json.dumps(doc))
    (p / "c" / "0").write_bytes(pickle.dumps(_RunsCode(target)))
    out.append(HostileCase("pickle/v3-numcodecs", p, "chunk", "error", "pickle"))
    return out


# -- tests ---------------------------------------------------------------------------------
def test_the_corpus_is_untouched_by_open_browse_inspect_and_qc(corpus_dir: Path) -> None:
    paths = corpus_paths()
    before = snapshot(corpus_dir)
    out = Outcome()
    t0 = time.perf_counter()
    with WriteWatch.watching(corpus_dir) as attempts:
        # everything opened and browsed; inspector and QC on one dataset of each kind
        # (~110 of ~640; all of them would add ~17 s for little more coverage)
        run_flow(paths, out, deep="one per kind")
    seconds = time.perf_counter() - t0
    assert_same_tree(before, snapshot(corpus_dir))
    assert attempts == []
    assert out.os_errors == []
    # the flow really ran: most of the corpus opens, QC and the inspector included
    assert out.opened >= 0.9 * len(paths), (out.opened, len(paths), seconds)
    assert out.deep >= 50, out.deep
    assert all(not why.startswith(("dask", "inspect", "qc")) for why in out.refused.values()), {
        p: why for p, why in out.refused.items() if why.startswith(("dask", "inspect", "qc"))
    }


def test_hostile_copies_read_only_are_untouched(hostile_ro: tuple[Path, list]) -> None:
    root, cases = hostile_ro
    before = snapshot(root)
    out = Outcome()
    with WriteWatch.watching(root) as attempts:
        run_flow([str(c.path) for c in cases], out)
    assert_same_tree(before, snapshot(root))
    assert attempts == []
    assert out.os_errors == []
    assert not (root / SENTINEL).exists()
    # the flow really ran over the cases: some open, some chunks fail, pickles are refused
    assert out.opened > len(cases) // 4
    assert out.failed_chunks > 0
    assert all("pickle" in out.refused.get(str(c.path), "") for c in cases if "pickle/" in c.name)


def test_a_read_only_copy_of_the_corpus_reads_like_the_original(
    corpus_dir: Path, tmp_path: Path
) -> None:
    subset = [
        "napari-n5/data/n5viewer.n5",  # N5, n5-viewer pyramid, gzip
        "ome-zarr-py/tests/data/v2",  # OME-NGFF 0.2 on zarr v2
        "zarrs/zarrs/tests/data/sharded_array_write_read.zarr",  # zarr v3 sharding
        "zarrs/zarrs/tests/data/zarr_python_compat/zarr.zip",  # a zip store
        "zarr_implementations/data/zarrita.zr3",  # the zarr v3 draft layout
        "zarr_implementations/data/z5py.zr",  # zarr v2, many codecs
        "saalfeldlab-n5-universe/src/test/resources/metadata.zarr",  # OME 0.4 variants
    ]
    copy = tmp_path / "corpus"
    for rel in subset:
        src, dst = corpus_dir / rel, copy / rel
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    inside = tuple(f"{corpus_dir / rel}" for rel in subset)
    paths = [p for p in corpus_paths(copy) if p.startswith(tuple(str(copy / r) for r in subset))]
    originals = [p for p in corpus_paths() if p.startswith(inside)]
    assert len(paths) == len(originals) > len(subset)
    undo = make_read_only(copy)
    try:
        before = snapshot(copy)
        out_ro, out_rw = Outcome(), Outcome()
        with WriteWatch.watching(copy) as attempts:
            run_flow(paths, out_ro)
        assert_same_tree(before, snapshot(copy))
    finally:
        undo()
    run_flow(originals, out_rw, deep="none")
    assert attempts == []
    assert out_ro.os_errors == []
    # the same datasets open and the same chunks fail as on the writable original
    assert out_ro.opened == out_rw.opened > 0
    assert out_ro.failed_chunks == out_rw.failed_chunks


def test_the_store_refuses_writes(tmp_path: Path) -> None:
    import asyncio

    import zarr
    from zarr.core.buffer import default_buffer_prototype

    path = tmp_path / "data.zarr"
    zarr.create_array(path, data=np.arange(16, dtype="uint8").reshape(4, 4), chunks=(2, 2))
    before = snapshot(path)
    root, _ = open_root(str(path))
    try:
        store = root.store
        assert store.read_only
        buf = default_buffer_prototype().buffer.from_bytes(b"x")
        for attempt in (
            store.set("c/0/0", buf),
            store.set("new", buf),
            store.set_if_not_exists("new", buf),
            store.delete("c/0/0"),
        ):
            with pytest.raises(PermissionError, match="never writes"):
                asyncio.run(attempt)
        # zarr-python on our store: opening for writing or writing through it fails too
        with pytest.raises((PermissionError, ValueError)):
            zarr.open_array(store, mode="r+")[0, 0] = 99
        arr = zarr.open_array(store, mode="r")
        with pytest.raises((PermissionError, ValueError)):
            arr[0, 0] = 99
        # the pyramid's levels hand out read-only data
        pyramid = open_pyramid(path)
        with pytest.raises((PermissionError, ValueError, TypeError)):
            pyramid.levels[0].array[0, 0] = 99  # type: ignore[index]
    finally:
        root.close()
    assert_same_tree(before, snapshot(path))
    assert np.asarray(open_pyramid(path).levels[0].array[:, :])[0, 0] == 0


def test_pickle_codecs_are_refused_even_when_numcodecs_allows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numcodecs.pickles

    # a user who opted in for their own trusted data must still be safe from a store's
    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", True, raising=False)
    cases = pickle_cases(tmp_path / "pickle")
    for case in cases:
        with pytest.raises(UnsupportedError, match=r"'(numcodecs\.)?pickle' is refused"):
            open_pyramid(case.path)
    assert not (tmp_path / SENTINEL).exists()
    # the payload is live: numcodecs itself would run it (so the refusal above matters)
    numcodecs.Pickle().decode((cases[0].path / "0").read_bytes())
    assert (tmp_path / SENTINEL).exists()


def test_the_witnesses_see_writes(tmp_path: Path) -> None:
    """The snapshot and the audit hook are not blind (else the tests above prove nothing)."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "chunk").write_bytes(b"abc")
    before = snapshot(data)
    with WriteWatch.watching(data) as attempts:
        (data / "sub" / "chunk").read_bytes()  # reading is fine
        with open(tmp_path / "elsewhere", "w") as f:  # outside the watched root too
            f.write("x")
    assert attempts == []
    assert_same_tree(before, snapshot(data))
    with WriteWatch.watching(data) as attempts:
        (data / "sub" / "lock").write_bytes(b"")
        (data / "sub" / "lock").unlink()  # created and removed: the folder's mtime tells
        os.utime(data / "sub" / "chunk", ns=(1, 1))
    assert [a.split()[0] for a in attempts] == ["open", "os.remove", "os.utime"]
    with pytest.raises(AssertionError, match="changed"):
        assert_same_tree(before, snapshot(data))
