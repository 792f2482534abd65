"""The browser pass's bookkeeping (harmonia.course.browser, `python -m harmonia.course browser`): the record of which
chapters passed it is current, the fingerprint follows what the student sees (notebook, teaching layer, lab
settings, the suite) and not the methods below it, and the command selects, skips and records as documented.
The pass itself (tests/browser/) needs Chromium: `make test-browser`."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest
from test_portable import _tiny_course

from harmonia.course import browser, cli, portable
from harmonia.course.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]


def test_every_ready_chapter_passed_the_browser_pass_at_its_current_fingerprint():
    ready = [ROOT / "chapters" / ch.file for ch in load_manifest() if ch.ready]
    stale = portable.stale_chapters(ready, ROOT, browser.RECORD_FILE, browser.browser_fingerprint)
    assert not stale, (
        f"chapters changed since they last passed the browser pass: {sorted(stale)}. Run "
        "`python -m harmonia.course browser --changed --record` (make test-browser) and commit chapters/browser.toml."
    )
    recorded = portable.read_record(ROOT, browser.RECORD_FILE)
    assert set(recorded) <= {p.name for p in (ROOT / "chapters").glob("*.ipynb")}, "record names a missing notebook"


@pytest.mark.parametrize("changed, moves", [
    ("lib/harmonia/course/plots.py", True),            # teaching layer the chapter imports
    ("lib/harmonia/course/exercises/ch00.py", True),
    ("tests/browser/test_x.py", True),                 # the suite itself
    ("lib/harmonia/course/lab/settings/overrides.json", True),
    ("lib/harmonia/config.py", False),                 # a method below the teaching layer: library tests and nbval
    ("lib/harmonia/course/exercises/ch01.py", False),  # another chapter's
    ("datasets/registry.toml", False),
])
def test_fingerprint_moves_with_what_the_student_sees_only(tmp_path, changed, moves):
    nb = _tiny_course(tmp_path)
    for extra in ("tests/browser/test_x.py", "lib/harmonia/course/lab/settings/overrides.json"):
        (tmp_path / extra).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / extra).write_text("{}\n")
    before = browser.browser_fingerprint(nb, tmp_path)
    assert browser.browser_fingerprint(nb, tmp_path) == before
    with open(tmp_path / changed, "a") as fh:
        fh.write("\n")
    assert (browser.browser_fingerprint(nb, tmp_path) != before) is moves


def _namespace(*notebooks: str, changed: bool = False, record: bool = False) -> argparse.Namespace:
    return argparse.Namespace(notebooks=list(notebooks), changed=changed, record=record)


def test_without_chromium_the_pass_says_what_to_install_and_skips(monkeypatch, capsys):
    monkeypatch.setattr(browser, "find_chromium", lambda: None)
    monkeypatch.setattr(subprocess, "call", lambda *a, **k: pytest.fail("no pass may run without Chromium"))
    assert cli.cmd_browser(_namespace()) == 0
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "skipped" in out and "apt-get install chromium" in out


def test_changed_runs_chapter_00_and_stale_chapters_and_records_after_a_pass(monkeypatch, tmp_path, capsys):
    pytest.importorskip("playwright.sync_api", reason="Playwright comes with the browser extra")
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    for name in ("00_start_here.ipynb", "01_a.ipynb", "02_b.ipynb"):
        (chapters / name).write_text(f'{{"cells": [], "name": "{name}"}}')
    monkeypatch.setattr(cli, "_root", lambda: tmp_path)
    monkeypatch.setattr(cli, "_chapter_paths", lambda args: sorted(chapters.glob("*.ipynb")))
    monkeypatch.setattr(browser, "find_chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(browser, "browser_fingerprint", lambda nb, root: nb.read_text())
    portable.write_record(tmp_path, {"00_start_here.ipynb": (chapters / "00_start_here.ipynb").read_text(),
                                     "01_a.ipynb": (chapters / "01_a.ipynb").read_text()}, browser.RECORD_FILE)
    runs: list[str] = []

    def fake_call(cmd, cwd, env):
        assert env["HARMONIA_BROWSER"] == "1" and "tests/browser" in cmd
        runs.append(env["HARMONIA_BROWSER_CHAPTERS"])
        return 0

    monkeypatch.setattr(subprocess, "call", fake_call)
    assert cli.cmd_browser(_namespace(changed=True, record=True)) == 0
    assert runs == ["00_start_here.ipynb,02_b.ipynb"]  # 01 is current; 00 runs always
    assert set(portable.read_record(tmp_path, browser.RECORD_FILE)) == {"00_start_here.ipynb", "01_a.ipynb", "02_b.ipynb"}
    assert (tmp_path / browser.RECORD_FILE).read_text().startswith(browser.HEADER)
    monkeypatch.setattr(subprocess, "call", lambda cmd, cwd, env: 1)  # a failing pass records nothing
    (chapters / "01_a.ipynb").write_text("{}")
    assert cli.cmd_browser(_namespace(changed=True, record=True)) == 1
    assert portable.read_record(tmp_path, browser.RECORD_FILE)["01_a.ipynb"] != "{}"


def test_make_test_leaves_the_browser_suite_out():
    import importlib.util

    spec = importlib.util.spec_from_file_location("tests_conftest", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.collect_ignore == ["browser"]  # HARMONIA_BROWSER is not set in make test
