"""`make lab` runs `python -m harmonia.course lab`: JupyterLab serves chapter 00 from the repository."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from harmonia.course.cli import LAB_DIR, lab_command, lab_env

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost only, never a proxy


def _get(url: str) -> tuple[int | None, bytes]:
    """(status, body); status None while the server does not accept connections yet."""
    try:
        with _LOCAL.open(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, b""
    except (urllib.error.URLError, ConnectionError):
        return None, b""


def test_lab_command_line():
    cmd = lab_command(ROOT, 8899, "tok", open_browser=False)
    assert cmd[:4] == [sys.executable, "-m", "jupyterlab", "chapters/00_start_here.ipynb"]
    assert "--no-browser" in cmd and "--IdentityProvider.token=tok" in cmd and "--ServerApp.port=8899" in cmd
    assert "--no-browser" not in lab_command(ROOT, 8899, "tok", open_browser=True)
    # no news feed, no update check: nothing reaches the internet, no pop-up over the figures
    assert "--LabApp.news_url=None" in cmd and "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate" in cmd
    assert f"--LabApp.app_settings_dir={LAB_DIR / 'settings'}" in cmd


def test_students_lose_nbgrader_teachers_keep_it(monkeypatch):
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/elsewhere")
    student, teacher = lab_env(), lab_env(teacher=True)
    assert student["JUPYTER_CONFIG_PATH"] == os.pathsep.join([str(LAB_DIR / "student"), "/elsewhere"])
    assert teacher["JUPYTER_CONFIG_PATH"] == "/elsewhere"
    page = json.loads((LAB_DIR / "student" / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {"@jupyter/nbgrader": True}
    server = json.loads((LAB_DIR / "student" / "jupyter_server_config.json").read_text())
    assert set(server["ServerApp"]["jpserver_extensions"].values()) == {False}


def test_lab_serves_chapter_00(tmp_path):
    port, token = _free_port(), "harmoniatest"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
    env.pop("DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "harmonia.course", "lab", "--port", str(port), "--token", token],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        banner = [proc.stdout.readline() for _ in range(2)]
        assert f"{base}/lab/tree/chapters/00_start_here.ipynb?token={token}" in banner[1]
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline:
            status, body = _get(f"{base}/api/contents/chapters/00_start_here.ipynb?token={token}")
            if status == 200:
                break
            assert proc.poll() is None, "JupyterLab exited early"
            time.sleep(0.5)
        assert status == 200, f"no answer from JupyterLab in 90 s (last status {status})"
        model = json.loads(body)
        assert model["type"] == "notebook" and model["name"] == "00_start_here.ipynb"
        assert model["content"]["cells"][0]["source"].startswith("# 00 · Start here")
        status, page = _get(f"{base}/lab/tree/chapters/00_start_here.ipynb?token={token}")
        assert status == 200 and b"JupyterLab" in page
        # the student's lab: nbgrader's extension disabled in the page config, its Formgrader not served
        tag = page.split(b'id="jupyter-config-data"', 1)[1]
        config = json.loads(tag.split(b">", 1)[1].split(b"</script>", 1)[0])
        assert "@jupyter/nbgrader" in config["disabledExtensions"]
        assert _get(f"{base}/formgrader?token={token}")[0] == 404
        # news and update checks off, in the settings the front end reads
        status, body = _get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}")
        assert status == 200
        defaults = json.loads(body)["schema"]["properties"]                 # the overrides become the defaults
        assert defaults["fetchNews"]["default"] == "false" and defaults["checkForUpdates"]["default"] is False
        assert _get(f"{base}/api/contents/chapters/00_start_here.ipynb?token=wrong")[0] == 403
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
