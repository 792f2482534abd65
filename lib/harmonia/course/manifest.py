"""The curriculum: ``chapters/manifest.toml`` read into :class:`Chapter` records.

The manifest is the single source of the chapter list: the setup banner, the README's chapter
table, chapter 00's prerequisite map and the tests all read it through this module.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Paper",
    "Chapter",
    "ManifestError",
    "repo_root",
    "find_manifest",
    "load_manifest",
    "get_chapter",
    "chapter_table",
    "STATUSES",
]

STATUSES = ("planned", "ready")


class ManifestError(RuntimeError):
    """The manifest is missing or malformed."""


@dataclass(frozen=True)
class Paper:
    """The paper a chapter teaches."""

    title: str
    authors: tuple[str, ...]
    venue: str
    year: int
    arxiv: str
    bibkey: str

    def short_authors(self) -> str:
        """``"Schaul, Zhang, LeCun"`` or ``"Andreux et al."`` (more than four authors)."""
        last = [a.split()[-1] for a in self.authors]
        return ", ".join(last) if len(last) <= 4 else f"{last[0]} et al."


@dataclass(frozen=True)
class Chapter:
    """One ``[[chapters]]`` table of the manifest."""

    id: str
    slug: str
    title: str
    status: str
    reading_minutes: int
    fast_budget_s: float
    prerequisites: tuple[str, ...]
    objectives: tuple[str, ...]
    topics: tuple[str, ...] = ()
    paper: Paper | None = None
    fast_seconds: float | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def file(self) -> str:
        """Notebook file name, e.g. ``"05_scattering.ipynb"``."""
        return f"{self.id}_{self.slug}.ipynb"

    @property
    def ready(self) -> bool:
        return self.status == "ready"


def repo_root() -> Path | None:
    """The course repository's root (the folder holding ``chapters/`` and ``lib/``), or ``None``
    when the package is installed away from its repository."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "chapters").is_dir() and (root / "lib").is_dir() else None


def find_manifest() -> Path:
    """Locate ``manifest.toml``: ``HARMONIA_MANIFEST``, then ``./manifest.toml`` (a notebook runs in
    ``chapters/``), then ``./chapters/manifest.toml``, then the repository beside the package."""
    candidates: list[Path] = []
    if os.environ.get("HARMONIA_MANIFEST"):
        candidates.append(Path(os.environ["HARMONIA_MANIFEST"]))
    candidates += [Path.cwd() / "manifest.toml", Path.cwd() / "chapters" / "manifest.toml"]
    root = repo_root()
    if root is not None:
        candidates.append(root / "chapters" / "manifest.toml")
    for path in candidates:
        if path.is_file():
            return path
    raise ManifestError(
        "manifest: expected chapters/manifest.toml in the working folder or beside the package, "
        f"looked at {[str(p) for p in candidates]}"
    )


def _parse_chapter(row: dict, where: str) -> Chapter:
    required = ("id", "slug", "title", "status", "reading_minutes", "fast_budget_s", "prerequisites", "objectives")
    missing = [k for k in required if k not in row]
    if missing:
        raise ManifestError(f"{where}: missing fields {missing}")
    if not re.fullmatch(r"\d\d", str(row["id"])):
        raise ManifestError(f"{where}: id must be a two-digit string, got {row['id']!r}")
    if row["status"] not in STATUSES:
        raise ManifestError(f"{where}: status must be one of {STATUSES}, got {row['status']!r}")
    if not re.fullmatch(r"[a-z0-9_]+", row["slug"]):
        raise ManifestError(f"{where}: slug must be lower-case letters, digits and '_', got {row['slug']!r}")
    paper = None
    if "paper" in row:
        p = row["paper"]
        missing = [k for k in ("title", "authors", "venue", "year", "arxiv", "bibkey") if k not in p]
        if missing:
            raise ManifestError(f"{where}.paper: missing fields {missing}")
        paper = Paper(
            title=p["title"],
            authors=tuple(p["authors"]),
            venue=p["venue"],
            year=int(p["year"]),
            arxiv=str(p["arxiv"]),
            bibkey=p["bibkey"],
        )
    known = set(required) | {"topics", "paper", "fast_seconds"}
    fast = row.get("fast_seconds")
    return Chapter(
        id=row["id"],
        slug=row["slug"],
        title=row["title"],
        status=row["status"],
        reading_minutes=int(row["reading_minutes"]),
        fast_budget_s=float(row["fast_budget_s"]),
        prerequisites=tuple(row["prerequisites"]),
        objectives=tuple(row["objectives"]),
        topics=tuple(row.get("topics", ())),
        paper=paper,
        fast_seconds=float(fast) if fast else None,
        extra={k: v for k, v in row.items() if k not in known},
    )


def load_manifest(path: str | Path | None = None) -> list[Chapter]:
    """Read and validate the manifest; chapters in file order.

    Raises
    ------
    ManifestError
        Missing file, invalid TOML, a malformed chapter, duplicate ids, or a prerequisite that is
        not an earlier chapter.
    """
    path = find_manifest() if path is None else Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ManifestError(f"manifest: no file at {path}") from err
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"manifest: {path} is not valid TOML ({err})") from err
    chapters = [_parse_chapter(row, f"{path.name}: chapters[{i}]") for i, row in enumerate(data.get("chapters", []))]
    seen: set[str] = set()
    for ch in chapters:
        if ch.id in seen:
            raise ManifestError(f"manifest: chapter id {ch.id} appears twice")
        unknown = [p for p in ch.prerequisites if p not in seen]
        if unknown:
            raise ManifestError(f"manifest: chapter {ch.id} has prerequisites {unknown} that are not earlier chapters")
        seen.add(ch.id)
    return chapters


def get_chapter(chapter_id: str, chapters: list[Chapter] | None = None) -> Chapter:
    """The chapter with this two-digit id (``"05"``; an int 5 is accepted too)."""
    if isinstance(chapter_id, int) and not isinstance(chapter_id, bool):
        chapter_id = f"{chapter_id:02d}"
    chapters = load_manifest() if chapters is None else chapters
    for ch in chapters:
        if ch.id == chapter_id:
            return ch
    raise ManifestError(f"chapter_id: expected one of {[c.id for c in chapters]}, got {chapter_id!r}")


def _fmt_seconds(ch: Chapter) -> str:
    if not ch.ready or ch.fast_seconds is None:
        return "—"
    return f"{ch.fast_seconds:.0f} s"


def chapter_table(
    chapters: list[Chapter], *, links: bool = True, prefix: str = "chapters/", progress: bool = True
) -> str:
    """The chapter table in Markdown: number, chapter, paper and, with ``progress``, status and
    fast-mode time.

    With ``progress=True`` it is the README's table (kept equal by a test). Chapter 00 shows it
    with ``progress=False, links=False``, so that its stored output does not change each time a
    chapter lands or is re-timed.
    """
    header = "| # | Chapter | Paper |" + (" Status | Fast mode (2-core CPU) |" if progress else "")
    lines = [header, "|---|---|---|" + ("---|---|" if progress else "")]
    for ch in chapters:
        title = f"[{ch.title}]({prefix}{ch.file})" if links and ch.ready else ch.title
        if ch.paper is None:
            paper = "—"
        else:
            p = ch.paper
            paper = f"{p.title} — {p.short_authors()} ({p.venue}; arXiv {p.arxiv})"
        row = f"| {ch.id} | {title} | {paper} |"
        if progress:
            row += f" {ch.status} | {_fmt_seconds(ch)} |"
        lines.append(row)
    return "\n".join(lines)
