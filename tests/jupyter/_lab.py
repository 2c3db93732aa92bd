"""A private JupyterLab on 127.0.0.1 and Debian's chromium driven by Playwright, for the
browser tests and ``benchmarks/notebook_tiles.py``.

JupyterLab runs with its own config, runtime, settings, workspaces and data directories
(news and update checks off, extension manager read-only), a token, and a kernel spec
pinned to this interpreter (``sys.executable``: the project's environment, whatever
``python`` is on ``PATH``). Chromium is launched headless from ``shutil.which("chromium")``
(never ``playwright install``); ``guard(page)`` aborts every request that does not go to
loopback and records it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
KERNEL = "python3"


def missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install chromium; see .ci/setup)"
    for module in ("jupyterlab", "playwright", "anywidget", "nbformat"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install -e '.[test]')"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def private_env(base: Path) -> dict[str, str]:
    """Private Jupyter directories under ``base``, a kernel spec pinned to this Python
    and JupyterLab's news / update notifications off."""
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": base / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": base / "workspaces",
        "JUPYTER_DATA_DIR": base / "data",
        "IPYTHONDIR": base / "ipython",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    spec = base / "data" / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (chunkview)",
                "language": "python",
            }
        )
    )
    notes = base / "settings" / "@jupyterlab" / "apputils-extension"
    notes.mkdir(parents=True, exist_ok=True)
    (notes / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update({k: str(v) for k, v in dirs.items()})
    env["JUPYTER_PATH"] = str(base / "data")  # searched first: our pinned kernel spec wins
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.pop("CHUNKVIEW_TILE_SERVER", None)
    return env


class Lab:
    """``with Lab(root, private) as lab:`` → ``lab.url(path)``; the server is stopped
    (and its kernels with it) on exit."""

    def __init__(self, root: Path, private: Path, timeout: float = 60.0) -> None:
        self.root, self.private, self.timeout = root, private, timeout
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = private / "lab.log"
        self.startup_s = 0.0

    def __enter__(self) -> Lab:
        env = private_env(self.private)
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--allow-root",
        ]
        t0 = time.monotonic()
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root
            )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.api("status"), timeout=1):
                    break
            except OSError:
                if time.monotonic() - t0 > self.timeout:
                    self.__exit__(None, None, None)
                    raise RuntimeError(
                        f"JupyterLab did not start: {self.log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        self.startup_s = time.monotonic() - t0
        return self

    def api(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/api/{path}?token={self.token}"

    def url(self, notebook: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook}?token={self.token}"

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_notebook(path: Path, cells: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "Python 3 (chunkview)",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1200, 1000)) -> Iterator[tuple[Any, list[str]]]:
    """``(page, blocked)``: a headless chromium page whose non-loopback requests are
    aborted and listed in ``blocked``."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            guard(page, blocked)
            yield page, blocked
        finally:
            browser.close()


def guard(page: Any, blocked: list[str]) -> None:
    def route(r: Any) -> None:
        url = urlparse(r.request.url)
        if url.scheme in ("data", "blob") or url.hostname in LOOPBACK:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)


KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && w.content && w.content.widgets.length > 0;
}"""

#: Run Python in the notebook's kernel from the page; resolves to its stdout (+ error).
EXECUTE = """async (code) => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const f = k.requestExecute({code, store_history: false});
  let out = '';
  f.onIOPub = (msg) => {
    const t = msg.header.msg_type;
    if (t === 'stream') out += msg.content.text;
    else if (t === 'error') out += `${msg.content.ename}: ${msg.content.evalue}`;
  };
  await f.done;
  return out;
}"""

#: Start Python in the kernel without waiting (a long-running cell); ``window._busy`` is
#: its future, ``window._busyDone`` true once it finished. (``kernel.status`` is no
#: guide: JupyterLab ≥ 4.4 sends widget messages to a kernel subshell, whose status
#: messages say "idle" while the main shell still runs the cell.)
EXECUTE_NOWAIT = """(code) => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  window._busyDone = false;
  window._busy = k.requestExecute({code, store_history: false});
  window._busy.done.then(() => { window._busyDone = true; });
  return true;
}"""


#: Run cell ``i`` of the notebook shown (as the user would: its outputs go to the page).
RUN_CELL = """(i) => {
  const nb = window.jupyterapp.shell.currentWidget;
  nb.content.activeCellIndex = i;
  return window.jupyterapp.commands.execute('notebook:run-cell');
}"""


def open_and_run(
    page: Any, lab: Lab, notebook: str, timeout_ms: int = 90_000, cells: list[int] | None = None
) -> float:
    """Open ``notebook`` and run all its cells (or only ``cells``); seconds until the
    kernel was idle."""
    t0 = time.monotonic()
    page.goto(lab.url(notebook))
    page.wait_for_function(KERNEL_IDLE, polling=500, timeout=timeout_ms)
    ready = time.monotonic() - t0
    if cells is None:
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    else:
        for i in cells:
            page.evaluate(RUN_CELL, i)
    return ready
