"""The curriculum file, the chapter files and the README table agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from harmonia.course.manifest import ManifestError, chapter_table, get_chapter, load_manifest
from harmonia.course.readme import readme_table_problems, render_readme

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ROOT / "chapters"


@pytest.fixture(scope="module")
def chapters():
    return load_manifest(CHAPTERS / "manifest.toml")


def test_all_nineteen_chapters_in_order(chapters):
    assert [c.id for c in chapters] == [f"{i:02d}" for i in range(19)]
    assert chapters[0].slug == "start_here" and chapters[0].paper is None and chapters[0].ready
    assert all(c.paper is not None for c in chapters[1:])


def test_every_chapter_entry_is_complete(chapters):
    for c in chapters:
        assert 3 <= len(c.objectives) <= 5, c.id
        assert c.reading_minutes > 0 and c.fast_budget_s == 90
        assert c.title and len(c.title) <= 60
        if c.paper is not None:
            assert re.fullmatch(r"\d{4}\.\d{4,5}", c.paper.arxiv), c.id
            assert c.paper.authors and 2000 < c.paper.year < 2030


def test_ready_chapters_have_notebooks_and_files_have_entries(chapters):
    files = {p.name for p in CHAPTERS.glob("*.ipynb")}
    ready = {c.file for c in chapters if c.ready}
    assert ready <= files, f"ready chapters without a notebook: {sorted(ready - files)}"
    listed = {c.file for c in chapters}
    assert files <= listed, f"notebooks not in the manifest: {sorted(files - listed)}"
    for c in chapters:
        if c.ready:
            assert c.fast_seconds is not None and 0 < c.fast_seconds <= c.fast_budget_s, c.id
        else:
            assert c.file not in files, f"{c.file} exists but the manifest says planned"


def test_prerequisites_point_backwards(chapters):
    order = {c.id: k for k, c in enumerate(chapters)}
    for c in chapters[1:]:
        assert c.prerequisites, c.id
        assert all(order[p] < order[c.id] for p in c.prerequisites)


def test_bibkeys_exist_in_references(chapters):
    bib = (CHAPTERS / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, re.M))
    assert len(keys) == len(re.findall(r"^@\w+\{", bib, re.M)), "duplicate or malformed bib keys"
    for c in chapters:
        if c.paper is not None:
            assert c.paper.bibkey in keys, c.id


def test_readme_table_matches_manifest(chapters):
    assert readme_table_problems(ROOT / "README.md", chapters) == []
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for c in chapters:
        assert f"| {c.id} | " in text


def test_readme_problems_detected(tmp_path, chapters):
    stale = render_readme((ROOT / "README.md").read_text(encoding="utf-8"), chapters[:-1])
    (tmp_path / "README.md").write_text(stale)
    assert readme_table_problems(tmp_path / "README.md", chapters)
    (tmp_path / "README.md").write_text("no markers here")
    assert "expected exactly one" in readme_table_problems(tmp_path / "README.md", chapters)[0]


def test_chapter_table_links_only_ready_chapters(chapters):
    table = chapter_table(chapters)
    assert "(chapters/00_start_here.ipynb)" in table
    assert "(chapters/05_scattering.ipynb)" not in table or get_chapter("05", chapters).ready
    assert len(table.splitlines()) == 2 + len(chapters)


def _write(tmp_path, text):
    path = tmp_path / "manifest.toml"
    path.write_text(text)
    return path


GOOD = '''
[[chapters]]
id = "00"
slug = "start_here"
title = "Start"
status = "ready"
reading_minutes = 5
fast_budget_s = 90
prerequisites = []
objectives = ["a", "b", "c"]
'''


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.replace('id = "00"', 'id = "0"'), "two-digit"),
        (lambda s: s.replace('"ready"', '"done"'), "status must be one of"),
        (lambda s: s.replace("prerequisites = []", 'prerequisites = ["07"]'), "not earlier chapters"),
        (lambda s: s.replace("reading_minutes = 5\n", ""), "missing fields"),
        (lambda s: s + s, "appears twice"),
        (lambda s: s.replace("[[chapters]]", "[[chapters]"), "not valid TOML"),
    ],
)
def test_malformed_manifest_is_rejected(tmp_path, edit, message):
    with pytest.raises(ManifestError, match=message):
        load_manifest(_write(tmp_path, edit(GOOD)))


def test_get_chapter_accepts_int_and_rejects_unknown(chapters):
    assert get_chapter(5, chapters).slug == "scattering"
    with pytest.raises(ManifestError, match="chapter_id"):
        get_chapter("42", chapters)


def test_manifest_is_plain_toml():
    data = tomllib.loads((CHAPTERS / "manifest.toml").read_text(encoding="utf-8"))
    assert data["schema"] == 1
