"""Manual check (CI does not run it: CI has no browser): render ExplainerApp in a real JupyterLab, in headless Chromium.

Writes a one-cell notebook to a temporary folder, starts JupyterLab on 127.0.0.1 (no token, its own settings and
workspace folders), opens the notebook in Chromium driven by Playwright, runs all cells through JupyterLab's own
command, waits for the widget, types a text into the widget's text box in the browser (a real front-end -> kernel
round trip) and saves a screenshot.

Needs a Chromium binary (Debian: ``apt-get install chromium``) and ``pip install playwright`` (its Python package
only: ``playwright install`` is not needed, the system Chromium is used). Neither is a dependency of nlexnb.

Usage::

    HF_HUB_OFFLINE=1 python tests/jupyterlab_screenshot.py [--out docs/explainer_app_jupyterlab.png]

Exit status 0 when the widget rendered and answered the typed text; the screenshot is written either way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CELL = """\
import nlexnb
from nlexnb.widgets import ExplainerApp

clf = nlexnb.load_classifier("tf_efficientnet_lite0", device="cpu")
mapper = nlexnb.fit_mapper(clf, nlexnb.load_text_encoder(device="cpu"))
concepts = ["stripes", "whiskers", "fur", "pointed ears", "green eyes", "foam", "coffee beans", "saucer", "sky",
            "space suit", "flag", "wheels", "petals", "roof", "uniform", "medals"]
app = ExplainerApp(nlexnb.Explainer(clf, mapper, concepts=concepts))
app"""
KERNEL_IDLE = "window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'"


def _notebook(folder: Path) -> Path:
    cell = {"cell_type": "code", "execution_count": None, "id": "app", "metadata": {}, "outputs": [], "source": CELL}
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb = {"cells": [cell], "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / "explainer_app.ipynb"
    path.write_text(json.dumps(nb, indent=1))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(url + "api/status", timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout:.0f} s")


def _drive(url: str, chromium: str, out: Path, timeout: float) -> bool:
    """Open the notebook, run all cells, type into the widget, screenshot. True when every step worked."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="nlexnb-chromium-") as profile:
        browser = pw.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 880},
        )
        page = browser.pages[0] if browser.pages else browser.new_page()
        ok = False
        try:
            page.goto(url + "lab/tree/explainer_app.ipynb?reset", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_function(KERNEL_IDLE, timeout=120_000)
            print("JupyterLab open, kernel idle: running all cells", flush=True)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            output = page.locator(".jp-OutputArea-output")
            sentence = output.locator("text=Predicted").first
            sentence.wait_for(timeout=timeout * 1000)
            output.locator("img.widget-image").first.wait_for(timeout=60_000)
            print("widget rendered:", sentence.inner_text(), flush=True)
            box = output.get_by_placeholder("type any text, e.g. stripes")  # ExplainerApp.text
            box.fill("stripes")
            box.press("Enter")  # continuous_update=False: the value goes to the kernel on Enter
            score = output.locator(".widget-label", has_text="stripes").first
            score.wait_for(timeout=120_000)
            print("typed text answered:", score.inner_text(), flush=True)
            page.evaluate("window.jupyterapp.commands.execute('notebook:hide-cell-code')")
            news = page.get_by_role("button", name="No", exact=True)  # "get notified about Jupyter news?" toast
            if news.count():
                news.first.click()
            time.sleep(2)  # let the new heat map decode
            ok = True
        finally:
            shot = out if ok else out.with_name(out.stem + "_failed.png")
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
            print(f"screenshot: {shot}")
            browser.close()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "explainer_app_jupyterlab.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the cell to finish")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nlexnb-lab-"))
    _notebook(work)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_RUNTIME_DIR"):
        env[var] = str(work / var.lower())  # leave the user's own Jupyter settings alone
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}"]
    command += [
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={work}",
    ]
    command += ["--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None"]
    ok = False
    with open(work / "jupyter.log", "w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_server(url, server)
            ok = _drive(url, args.chromium, args.out, args.timeout)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    if not ok:
        print(f"FAILED; JupyterLab log: {work / 'jupyter.log'}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
