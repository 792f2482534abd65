"""``python -m harmonia.course COMMAND``: the course's notebook and teacher tools.

Commands
--------
execute NOTEBOOK...     run each notebook (fast mode, this environment), store outputs, strip volatile metadata
student NOTEBOOK...     write the student version (solutions -> stubs, outputs cleared) under build/student/
nbgrader NOTEBOOK...    write an nbgrader source notebook under build/nbgrader/source/NN_slug/
timings [NOTEBOOK...]   execute and time chapters against their 90 s budget (--last: read the last test run;
                        --record: store the measured times in chapters/manifest.toml)
hygiene [NOTEBOOK...]   list every rule a stored chapter breaks
portable [NOTEBOOK...]  strict nbval as on another CPU (torch's portable kernels, one thread; no time budget);
                        --changed: only chapters whose fingerprint differs from chapters/portable.toml;
                        --record: after a pass, store the fingerprints of the chapters that ran;
                        --budget S: every chapter if the last make test's timings say it fits in S seconds
readme [--check]        regenerate (or check) the README's chapter table from the manifest
bench NAME | all | --list  run a benchmark (prints a table, writes build/bench/NAME.txt; all: build/bench/report.md)
browser [NOTEBOOK...]   the chapters in the course's JupyterLab in headless Chromium: run all cells, move every widget
                        control (screenshots in build/browser/); --changed: chapter 00 and the chapters whose
                        fingerprint differs from chapters/browser.toml; --record: store the fingerprints after a pass
lab [--teacher]         start JupyterLab on chapter 00 (no browser without a display; prints the URL; no news or
                        update checks; students do not see nbgrader, --teacher brings it back)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from harmonia.course import gpucheck
from harmonia.course import notebooks as nbtools
from harmonia.course.manifest import ManifestError, find_manifest, load_manifest, repo_root
from harmonia.course.readme import readme_table_problems, render_readme

BUDGET_S = 90.0


def _root() -> Path:
    root = repo_root()
    if root is None:
        raise SystemExit("error: this command needs the course repository (chapters/, lib/) beside the package")
    return root


def _chapter_paths(args: list[str]) -> list[Path]:
    if args:
        paths = [Path(a) for a in args]
    else:
        root = _root()
        paths = [root / "chapters" / ch.file for ch in load_manifest() if ch.ready]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"error: NOTEBOOK: expected existing .ipynb files, got missing {missing}")
    return paths


def cmd_execute(ns: argparse.Namespace) -> int:
    for path in _chapter_paths(ns.notebooks):
        try:
            _, seconds = nbtools.execute_notebook(path, timeout=ns.timeout)
        except nbtools.NotebookError as err:
            print(f"FAILED {path}: {err}", file=sys.stderr)
            return 1
        problems = nbtools.hygiene_problems(path) if re.fullmatch(r"\d\d_.*", path.name) else []
        print(f"executed {path} in {seconds:.1f} s" + ("" if not problems else f"; {len(problems)} hygiene problems:"))
        for p in problems:
            print(f"  - {p}")
    return 0


def _out_dir(ns: argparse.Namespace, default: str) -> Path:
    if ns.out:
        return Path(ns.out)
    root = repo_root()
    return (root if root is not None else Path.cwd()) / "build" / default


def cmd_student(ns: argparse.Namespace) -> int:
    out_dir = _out_dir(ns, "student")
    for path in _chapter_paths(ns.notebooks):
        nb = nbtools.student_notebook(nbtools.read_notebook(path))
        target = nbtools.write_notebook(nb, out_dir / path.name)
        print(f"wrote {target}")
    return 0


def cmd_nbgrader(ns: argparse.Namespace) -> int:
    out_dir = _out_dir(ns, "nbgrader/source")
    for path in _chapter_paths(ns.notebooks):
        chapter_id = nbtools.chapter_id_of(path)
        nb = nbtools.nbgrader_notebook(nbtools.read_notebook(path), chapter_id)
        target = nbtools.write_notebook(nb, out_dir / path.stem / path.name)
        print(f"wrote {target}")
    return 0


def _record_seconds(manifest: Path, chapter_id: str, seconds: float) -> None:
    """Set ``fast_seconds`` of one chapter in the manifest file, keeping everything else as written."""
    text = manifest.read_text(encoding="utf-8")
    blocks = re.split(r"(?m)^(?=\[\[chapters\]\])", text)
    for k, block in enumerate(blocks):
        if re.search(rf'(?m)^id = "{chapter_id}"\s*$', block):
            line = f"fast_seconds = {seconds:.1f}"
            if re.search(r"(?m)^fast_seconds = .*$", block):
                block = re.sub(r"(?m)^fast_seconds = .*$", line, block, count=1)
            else:
                block = re.sub(r"(?m)^(fast_budget_s = .*)$", rf"\1\n{line}", block, count=1)
            blocks[k] = block
            manifest.write_text("".join(blocks), encoding="utf-8")
            return
    raise SystemExit(f"error: chapter {chapter_id} is not in {manifest}")


def cmd_timings(ns: argparse.Namespace) -> int:
    rows: list[tuple[str, float]] = []
    if ns.last:
        path = _root() / "build" / "nbval-timings.json"
        if not path.is_file():
            raise SystemExit(f"error: --last: expected {path} from a previous `make test`, found none")
        rows = sorted(json.loads(path.read_text()).items())
    else:
        for nb in _chapter_paths(ns.notebooks):
            _, seconds = nbtools.execute_notebook(nb, write=False, timeout=ns.timeout)
            rows.append((str(nb), seconds))
    over = 0
    print(f"{'notebook':<48} {'seconds':>8}  budget")
    for name, seconds in rows:
        flag = "ok" if seconds <= BUDGET_S else "OVER"
        over += seconds > BUDGET_S
        print(f"{name:<48} {seconds:8.1f}  {BUDGET_S:.0f} s {flag}")
        if ns.record:
            _record_seconds(find_manifest(), nbtools.chapter_id_of(name), seconds)
    if ns.record:
        print("recorded in the manifest; run `python -m harmonia.course readme` to update the README table")
    return 1 if over else 0


def cmd_hygiene(ns: argparse.Namespace) -> int:
    bad = 0
    for path in _chapter_paths(ns.notebooks):
        problems = nbtools.hygiene_problems(path)
        print(f"{path}: {'clean' if not problems else f'{len(problems)} problems'}")
        for p in problems:
            print(f"  - {p}")
        bad += bool(problems)
    return 1 if bad else 0


def cmd_portable(ns: argparse.Namespace) -> int:
    from harmonia.course import portable

    root = _root()
    paths = [p.resolve() for p in _chapter_paths(ns.notebooks)]
    if ns.budget is not None and not ns.changed:
        estimate = portable.estimate_seconds(root, [p.name for p in paths])
        if estimate is None or estimate > ns.budget:
            ns.changed = True
            why = "no timings of a previous make test" if estimate is None else f"estimated {estimate:.0f} s"
            print(f"portable pass: {why} for every chapter, over the budget of {ns.budget:.0f} s: "
                  "only the chapters changed since chapters/portable.toml", flush=True)
        else:
            print(f"portable pass: every chapter, estimated {estimate:.0f} s (budget {ns.budget:.0f} s)", flush=True)
    if ns.changed:
        stale = portable.stale_chapters(paths, root)
        skipped = len(paths) - len(stale)
        paths = [p for p in paths if p.name in stale]
        print(f"portable pass: {skipped} chapter(s) match their recorded fingerprint; "
              f"{len(paths)} to run{': ' + ', '.join(p.name for p in paths) if paths else ''}", flush=True)
        if not paths:
            return 0
    fingerprints = {p.name: portable.chapter_fingerprint(p, root) for p in paths}
    env = {**os.environ, **nbtools.NOTEBOOK_ENV, **portable.PORTABLE_ENV}
    cmd = [sys.executable, "-m", "pytest", "-c", "pyproject.toml", *[str(p.relative_to(root) if p.is_relative_to(root) else p) for p in paths], "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-p", "no:cacheprovider"]
    print("portable pass: " + " ".join(f"{k}={v}" for k, v in portable.PORTABLE_ENV.items()) + " (no time budget)", flush=True)
    rc = subprocess.call(cmd, cwd=root, env=env)
    if rc == 0 and ns.record:
        if {p.name: portable.chapter_fingerprint(p, root) for p in paths} != fingerprints:
            print("error: --record: a chapter or library file changed during the run; run it again", file=sys.stderr)
            return 1
        print(f"recorded {len(fingerprints)} fingerprint(s) in {portable.write_record(root, fingerprints)}")
    return rc


def cmd_browser(ns: argparse.Namespace) -> int:
    from harmonia.course import browser, portable

    root = _root()
    if browser.find_chromium() is None:
        print("browser pass: skipped: Debian's chromium is not installed (as root: apt-get install chromium)")
        return 0
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        print("browser pass: skipped: Playwright is not installed (pip install -e '.[browser]')")
        return 0
    paths = [p.resolve() for p in _chapter_paths(ns.notebooks)]
    if ns.changed:
        stale = portable.stale_chapters(paths, root, browser.RECORD_FILE, browser.browser_fingerprint)
        paths = [p for p in paths if p.name in stale or p.name in browser.ALWAYS]
        print(f"browser pass: {', '.join(p.name for p in paths)} ({len(stale)} changed since "
              f"{browser.RECORD_FILE}, plus {', '.join(browser.ALWAYS)} always)", flush=True)
    fingerprints = {p.name: browser.browser_fingerprint(p, root) for p in paths}
    env = {**os.environ, "HARMONIA_BROWSER": "1", "HARMONIA_BROWSER_CHAPTERS": ",".join(p.name for p in paths)}
    cmd = [sys.executable, "-m", "pytest", "-c", "pyproject.toml", "tests/browser", "-p", "no:cacheprovider"]
    rc = subprocess.call(cmd, cwd=root, env=env)
    if rc == 0 and ns.record:
        if {p.name: browser.browser_fingerprint(p, root) for p in paths} != fingerprints:
            print("error: --record: a chapter or teaching-layer file changed during the run; run it again", file=sys.stderr)
            return 1
        path = portable.write_record(root, fingerprints, browser.RECORD_FILE, browser.HEADER)
        print(f"recorded {len(fingerprints)} fingerprint(s) in {path}")
    return rc


def cmd_readme(ns: argparse.Namespace) -> int:
    readme = _root() / "README.md"
    chapters = load_manifest()
    if ns.check:
        problems = readme_table_problems(readme, chapters)
        for p in problems:
            print(p)
        return 1 if problems else 0
    readme.write_text(render_readme(readme.read_text(encoding="utf-8"), chapters), encoding="utf-8")
    print(f"updated the chapter table of {readme}")
    return 0


def cmd_bench(ns: argparse.Namespace) -> int:
    import importlib

    from harmonia.course import bench

    names = bench.available()
    if ns.list or not ns.name:
        for name, description in sorted(names.items()):
            print(f"{name:<16} {description}")
        print(f"{'all':<16} every benchmark above with its defaults, one Markdown report (build/bench/report.md)")
        return 0
    root = repo_root()
    out_dir = (root if root is not None else Path.cwd()) / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    if ns.name == "all":
        return _bench_all(names, out_dir)
    if ns.name not in names:
        raise SystemExit(f"error: NAME: expected one of {sorted(names) + ['all']}, got {ns.name!r}")
    table = importlib.import_module(f"harmonia.course.bench.{ns.name}").main(ns.args)
    print(table)
    out = out_dir / f"{ns.name}.txt"
    out.write_text(table + "\n", encoding="utf-8")
    print(f"(written to {out})")
    return 0


def _bench_all(names: dict[str, str], out_dir: Path) -> int:
    """Run every benchmark with its defaults; write each table and one Markdown report with the machine's details."""
    import datetime
    import importlib
    import platform
    import time

    import torch

    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = ["# Harmonia benchmarks", "",
             f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
             f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
             f"- torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, CUDA: {cuda}",
             "- command: `python -m harmonia.course bench all` (each benchmark with its defaults)", ""]
    failed = 0
    for name in sorted(names):
        start = time.perf_counter()
        print(f"bench {name} ...", flush=True)
        try:
            table = importlib.import_module(f"harmonia.course.bench.{name}").main([])
        except Exception as exc:  # a failing benchmark is reported, the others still run
            failed += 1
            table = f"FAILED: {type(exc).__name__}: {exc}"
        (out_dir / f"{name}.txt").write_text(table + "\n", encoding="utf-8")
        lines += [f"## {name}", "", names[name], "", "```", table, "```", "",
                  f"({time.perf_counter() - start:.0f} s)", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    print(f"(report written to {report}; {len(names) - failed} of {len(names)} benchmarks ran)")
    return 1 if failed else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: the course's JupyterLab settings (see lab/README.md): application settings and the students' config directory
LAB_DIR = Path(__file__).resolve().parent / "lab"


def lab_command(root: Path, port: int, token: str, open_browser: bool) -> list[str]:
    """The JupyterLab command line ``lab`` runs (served from the repository root, chapter 00 open), with news and
    update checks off: no pop-up over the figures, no request to the internet."""
    cmd = [
        sys.executable, "-m", "jupyterlab", "chapters/00_start_here.ipynb",
        f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--LabApp.app_settings_dir={LAB_DIR / 'settings'}", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def cmd_lab(ns: argparse.Namespace) -> int:
    root = _root()
    has_display = sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    open_browser = has_display and not ns.no_browser
    port = ns.port or _free_port()
    token = ns.token or secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}/lab/tree/chapters/00_start_here.ipynb?token={token}"
    print(f"Harmonia: JupyterLab on chapter 00 at\n    {url}\n(Ctrl-C to stop)", flush=True)
    env = lab_env(teacher=ns.teacher)
    return subprocess.call(lab_command(root, port, token, open_browser), cwd=root, env=env)


def lab_env(teacher: bool = False) -> dict[str, str]:
    """The environment of ``lab``: the notebooks' (threads, progress bars) and, for students, the config directory
    that turns nbgrader's lab and server extensions off (teachers keep them)."""
    env = {**os.environ, **{k: v for k, v in nbtools.NOTEBOOK_ENV.items() if k != "HARMONIA_MODE"}}
    if not teacher:
        rest = env.get("JUPYTER_CONFIG_PATH", "")
        env["JUPYTER_CONFIG_PATH"] = str(LAB_DIR / "student") + (os.pathsep + rest if rest else "")
    return env


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("execute", help="execute notebooks and store their outputs")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.set_defaults(func=cmd_execute)
    p = sub.add_parser("student", help="write student versions (solutions replaced by stubs)")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--out", help="output folder (default build/student)")
    p.set_defaults(func=cmd_student)
    p = sub.add_parser("nbgrader", help="write nbgrader source notebooks")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--out", help="output folder (default build/nbgrader/source)")
    p.set_defaults(func=cmd_nbgrader)
    p = sub.add_parser("timings", help="fast-mode wall time of chapters against the 90 s budget")
    p.add_argument("notebooks", nargs="*", help="default: every ready chapter")
    p.add_argument("--last", action="store_true", help="read the times of the last `make test`")
    p.add_argument("--record", action="store_true", help="store the times in chapters/manifest.toml")
    p.add_argument("--timeout", type=int, default=600)
    p.set_defaults(func=cmd_timings)
    p = sub.add_parser("hygiene", help="check stored chapters against the notebook rules")
    p.add_argument("notebooks", nargs="*", help="default: every ready chapter")
    p.set_defaults(func=cmd_hygiene)
    p = sub.add_parser("portable", help="strict nbval as on another CPU (portable kernels, one thread)")
    p.add_argument("notebooks", nargs="*", help="default: every ready chapter")
    p.add_argument("--changed", action="store_true", help="only chapters whose fingerprint differs from the record")
    p.add_argument("--record", action="store_true", help="after a pass, record the fingerprints of the chapters run")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="run every chapter only if the last make test's timings predict it fits, else --changed")
    p.set_defaults(func=cmd_portable)
    p = sub.add_parser("readme", help="regenerate the README's chapter table from the manifest")
    p.add_argument("--check", action="store_true", help="only check; exit 1 when out of date")
    p.set_defaults(func=cmd_readme)
    p = sub.add_parser("bench", help="run a benchmark and print its table")
    p.add_argument("name", nargs="?", help="benchmark name (see --list)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the benchmark")
    p.add_argument("--list", action="store_true", help="list the benchmarks")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("gpucheck", help="device tests, chapter demos and benchmarks on a GPU (report in build/gpucheck)")
    gpucheck.add_arguments(p)
    p.set_defaults(func=gpucheck.run_from)
    p = sub.add_parser("browser", help="the chapters in JupyterLab in headless Chromium (make test-browser)")
    p.add_argument("notebooks", nargs="*", help="default: every ready chapter")
    p.add_argument("--changed", action="store_true",
                   help="chapter 00 and the chapters whose fingerprint differs from chapters/browser.toml")
    p.add_argument("--record", action="store_true", help="after a pass, record the fingerprints of the chapters run")
    p.set_defaults(func=cmd_browser)
    p = sub.add_parser("lab", help="start JupyterLab on chapter 00")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default="")
    p.add_argument("--teacher", action="store_true", help="keep nbgrader's menus, Formgrader and Validate button")
    p.add_argument("--no-browser", action="store_true")
    p.set_defaults(func=cmd_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return int(ns.func(ns) or 0)
    except (nbtools.NotebookError, ManifestError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


__all__ = ["main", "build_parser", "lab_command"]
