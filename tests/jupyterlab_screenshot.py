"""Manual check (CI does not run it: CI has no browser): the three apps in a real JupyterLab, in headless Chromium.

Writes a one-cell notebook per app to a temporary folder, starts JupyterLab on 127.0.0.1 (no token, its own settings
and workspace folders), opens each notebook in Chromium driven by Playwright, runs all cells through JupyterLab's own
command, waits for the widget, changes a control in the browser (a real front-end -> kernel -> front-end round trip),
waits for the app to answer and saves a screenshot per app:

- ``explainer``: ExplainerApp; types "stripes" into the text box, waits for its score;
- ``zeroshot``: ZeroShotApp; types three labels into the text area, picks the coffee photo, waits for the
  probability table to put "a cup of coffee" first;
- ``explorer``: ConceptExplorer; types "Siberian husky" and "malamute" into the two class boxes, waits for the
  contrast table to change.

Needs a Chromium binary (Debian: ``apt-get install chromium``) and ``pip install playwright`` (its Python package
only: ``playwright install`` is not needed, the system Chromium is used). Neither is a dependency of nlexnb.

Usage::

    HF_HUB_OFFLINE=1 python tests/jupyterlab_screenshot.py [--app explainer|zeroshot|explorer ...] [--out-dir docs]

Exit status 0 when every app rendered and answered; the screenshots are written either way (``*_failed.png``).
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
SETUP = """\
import nlexnb
from nlexnb.widgets import ConceptExplorer, ExplainerApp, ZeroShotApp

clf = nlexnb.load_classifier("tf_efficientnet_lite0", device="cpu")
mapper = nlexnb.fit_mapper(clf, nlexnb.load_text_encoder(device="cpu"))
concepts = ["stripes", "whiskers", "fur", "pointed ears", "green eyes", "foam", "coffee beans", "saucer", "sky",
            "space suit", "flag", "wheels", "petals", "roof", "uniform", "medals", "sled", "snow", "thick coat",
            "wolf", "blue eyes", "curled tail", "harness", "mask"]
"""
CELLS = {
    "explainer": SETUP + "app = ExplainerApp(nlexnb.Explainer(clf, mapper, concepts=concepts))\napp",
    "zeroshot": SETUP + "app = ZeroShotApp(clf, mapper, labels=['a cat', 'a rocket'])\napp",
    "explorer": SETUP + "app = ConceptExplorer(clf, mapper, bank=concepts)\napp",
}
SCREENSHOTS = {
    "explainer": "explainer_app_jupyterlab.png",
    "zeroshot": "zeroshot_app_jupyterlab.png",
    "explorer": "concept_explorer_jupyterlab.png",
}
KERNEL_IDLE = "window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'"


def _notebook(folder: Path, app: str) -> Path:
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": app,
        "metadata": {},
        "outputs": [],
        "source": CELLS[app],
    }
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb = {"cells": [cell], "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / f"{app}.ipynb"
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


def _explainer(output, timeout: float) -> None:
    sentence = output.locator("text=Predicted").first
    sentence.wait_for(timeout=timeout * 1000)
    output.locator("img.widget-image").first.wait_for(timeout=60_000)
    print("  widget rendered:", sentence.inner_text(), flush=True)
    box = output.get_by_placeholder("type any text, e.g. stripes")  # ExplainerApp.text
    box.fill("stripes")
    box.press("Enter")  # continuous_update=False: the value goes to the kernel on Enter
    score = output.locator(".widget-label", has_text="stripes").first
    score.wait_for(timeout=120_000)
    print("  typed text answered:", score.inner_text(), flush=True)


def _zeroshot(output, timeout: float) -> None:
    output.locator(".widget-label", has_text="a rocket").first.wait_for(timeout=timeout * 1000)  # a probability bar
    print("  widget rendered:", output.locator("table").first.inner_text().replace("\n", " | "), flush=True)
    labels = output.get_by_placeholder("one label per line")  # ZeroShotApp.labels
    labels.fill("a cat\na rocket\na cup of coffee")
    labels.press("Tab")  # continuous_update=False: the text area sends its value when it loses focus
    output.locator(".widget-label", has_text="a cup of coffee").first.wait_for(timeout=120_000)
    output.locator(".widget-dropdown select").first.select_option("coffee")
    first = output.locator("table tbody tr").first
    first.filter(has_text="a cup of coffee").wait_for(timeout=120_000)
    print("  new labels and photo answered, top row:", first.inner_text().replace("\t", " "), flush=True)


def _explorer(output, timeout: float) -> None:
    table = output.locator("table").first
    table.wait_for(timeout=timeout * 1000)
    output.locator("img.widget-image").first.wait_for(timeout=60_000)
    before = table.inner_text()
    print("  widget rendered:", before.splitlines()[1:3], flush=True)
    for placeholder, value in (("a class name", "Siberian husky"), ("optional second class", "malamute")):
        box = output.get_by_placeholder(placeholder)
        box.fill(value)
        box.press("Enter")
    deadline = time.time() + 120
    while table.inner_text() == before or "favours" not in table.inner_text():  # contrast tables name a side
        if time.time() > deadline:
            raise TimeoutError("the contrast table did not change")
        time.sleep(0.5)
    print("  two classes answered:", table.inner_text().splitlines()[1:3], flush=True)


STEPS = {"explainer": _explainer, "zeroshot": _zeroshot, "explorer": _explorer}


def _drive(url: str, chromium: str, apps: list[str], out_dir: Path, timeout: float) -> bool:
    """Per app: open its notebook, run all cells, change a control, wait for the answer, screenshot."""
    from playwright.sync_api import sync_playwright

    all_ok = True
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="nlexnb-chromium-") as profile:
        browser = pw.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 880},
        )
        page = browser.pages[0] if browser.pages else browser.new_page()
        try:
            for app in apps:
                ok = False
                print(f"{app}:", flush=True)
                try:
                    page.goto(url + f"lab/tree/{app}.ipynb?reset", wait_until="domcontentloaded")
                    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
                    page.wait_for_function(KERNEL_IDLE, timeout=120_000)
                    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
                    STEPS[app](page.locator(".jp-OutputArea-output"), timeout)
                    page.evaluate("window.jupyterapp.commands.execute('notebook:hide-cell-code')")
                    news = page.get_by_role("button", name="No", exact=True)  # "Jupyter news?" toast
                    if news.count():
                        news.first.click()
                    time.sleep(2)  # let new images decode
                    ok = True
                except Exception as exc:  # report, screenshot, go on with the next app
                    print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
                finally:
                    shot = out_dir / SCREENSHOTS[app]
                    shot = shot if ok else shot.with_name(shot.stem + "_failed.png")
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(shot))
                    print(f"  screenshot: {shot}", flush=True)
                    page.evaluate("window.jupyterapp.commands.execute('kernelmenu:shutdown')")
                all_ok &= ok
        finally:
            browser.close()
    return all_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", nargs="+", choices=list(CELLS), default=list(CELLS), help="which apps (default all)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs", help="where the screenshots go")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the cell to finish")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nlexnb-lab-"))
    for app in args.app:
        _notebook(work, app)
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
            ok = _drive(url, args.chromium, args.app, args.out_dir, args.timeout)
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
