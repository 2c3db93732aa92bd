"""Run the atheris fuzz targets of ``fuzz/targets.py``.

    python fuzz/run.py --seconds 180              # every target, 180 s each
    python fuzz/run.py --seconds 5 --target shard # one target, a smoke run
    python fuzz/run.py --runs 2000                # a fixed number of inputs per target

Each target runs in its own process (libFuzzer exits on the first crash) with
``-rss_limit_mb`` so that a decompression bomb shows up as a failure. A crashing input is
written to ``fuzz/crashes/`` (``crash-<sha1>``); replay it with
``python fuzz/run.py --target <name> fuzz/crashes/crash-...``. Exit status: 0 when every
target ran clean.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RSS_LIMIT_MB = 1024


def _child(name: str, libfuzzer_args: list[str]) -> None:
    import atheris

    sys.path.insert(0, str(HERE))
    import targets

    with atheris.instrument_imports(include=["napari_chunkview"]):
        targets.load()
    fn = targets.TARGETS[name]
    atheris.Setup([sys.argv[0], *libfuzzer_args], fn)
    atheris.Fuzz()


def _run(name: str, seconds: int | None, runs: int | None, extra: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    import targets

    crashes = HERE / "crashes"
    crashes.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as corpus:
        for i, seed in enumerate(targets.seeds().get(name, [])):
            Path(corpus, f"seed-{i}").write_bytes(seed)
        args = [f"-rss_limit_mb={RSS_LIMIT_MB}", f"-artifact_prefix={crashes}/", "-timeout=20"]
        if seconds is not None:
            args.append(f"-max_total_time={seconds}")
        if runs is not None:
            args.append(f"-runs={runs}")
        cmd = [sys.executable, __file__, "--child", name, "--", *args, *extra, corpus]
        print(f"== {name}: {' '.join(args)}", flush=True)
        return subprocess.call(cmd, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--seconds", type=int, default=None, help="per target (default 180 unless --runs)"
    )
    p.add_argument("--runs", type=int, default=None, help="inputs per target")
    p.add_argument("--target", action="append", help="only these targets (repeatable)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("rest", nargs="*", help="extra libFuzzer arguments / inputs to replay")
    ns = p.parse_args()
    if ns.child:
        _child(ns.child, ns.rest)
        return 0
    sys.path.insert(0, str(HERE))
    import targets

    names = ns.target or list(targets.TARGETS)
    if ns.rest:  # replay given inputs
        return max(
            subprocess.call([sys.executable, __file__, "--child", n, "--", *ns.rest]) for n in names
        )
    seconds = ns.seconds if ns.seconds is not None or ns.runs is not None else 180
    failed = [n for n in names if _run(n, seconds, ns.runs, []) != 0]
    print("fuzz: all targets clean" if not failed else f"fuzz: FAILED {failed}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
