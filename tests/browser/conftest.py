"""The browser pass's fixtures: the course's JupyterLab over a copy of the chapters, and headless Chromium.

Collected only when ``HARMONIA_BROWSER=1`` (``python -m harmonia.course browser`` sets it, with the chapters to run
in ``HARMONIA_BROWSER_CHAPTERS``); ``make test`` leaves this folder out (see ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harmonia.course.browser import CHROMIUM_FLAGS, find_chromium
from harmonia.course.cli import lab_command, lab_env
from harmonia.course.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "browser"


def chapters_to_run() -> list[str]:
    """File names from ``HARMONIA_BROWSER_CHAPTERS`` (comma-separated), default every ready chapter."""
    names = [n.strip() for n in os.environ.get("HARMONIA_BROWSER_CHAPTERS", "").split(",") if n.strip()]
    return names or [ch.file for ch in load_manifest() if ch.ready]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """``(base_url, token)`` of the course's JupyterLab (the ``lab`` command line, as a student gets it), serving a
    copy of ``chapters/``; the application object is exposed to the page so the tests can read cell models."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "chapters", root / "chapters", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = _free_port(), secrets.token_hex(16)
    cmd = lab_command(root, port, token, open_browser=False) + ["--LabApp.expose_app_in_browser=True"]
    env = {**lab_env(), "HARMONIA_MODE": "fast"}
    SHOTS.mkdir(parents=True, exist_ok=True)
    log = open(SHOTS / "lab.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with _LOCAL.open(f"{base}/api/status?token={token}", timeout=5) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            pytest.fail(f"JupyterLab did not start (exit {proc.poll()}); its log:\n{(SHOTS / 'lab.log').read_text()[-3000:]}")
        time.sleep(0.5)
    try:
        yield base, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def chromium():
    """Headless Debian Chromium under Playwright (no browser download)."""
    path = find_chromium()
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright comes with the browser extra")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=list(CHROMIUM_FLAGS))
        try:
            yield browser
        finally:
            browser.close()


def _shut_down_kernels(base: str, token: str) -> None:
    """Delete every session (and so its kernel): a chapter's kernel must not compute on while the next one runs."""
    import json

    with _LOCAL.open(f"{base}/api/sessions?token={token}", timeout=30) as response:
        sessions = json.loads(response.read())
    for session in sessions:
        request = urllib.request.Request(f"{base}/api/sessions/{session['id']}?token={token}", method="DELETE")
        _LOCAL.open(request, timeout=60).close()


@pytest.fixture()
def page(chromium, lab):
    """A fresh page; console errors and page errors are collected in ``page.errors``. Afterwards every kernel is
    shut down."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.errors = errors
    try:
        yield page
    finally:
        context.close()
        _shut_down_kernels(*lab)
