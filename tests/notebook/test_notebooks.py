"""Every notebook in ``notebooks/`` runs top to bottom, headless (nbclient), in a kernel
pinned to this interpreter (a private kernel spec: not whatever ``python`` is on PATH)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    from ..jupyter._lab import KERNEL, private_env

    if path.stem == "n5":
        pytest.importorskip("tensorstore")
    env = private_env(tmp_path / "jupyter")
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "jupyter" / "data" / "kernels")])
    assert specs.get_kernel_spec(KERNEL).argv[0] == sys.executable
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, km=km, timeout=300, kernel_name=KERNEL, resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute(env=env)  # the kernel's environment: private Jupyter directories
    finally:  # nbclient leaves a kernel it was handed alone
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(WIDGET_MIME in o.get("data", {}) for o in outputs), "no viewer was displayed"
