"""Build flopcalc's browser page (``web/``) into a folder that any static server can serve, and serve it.

    python tools/build_web.py                 # build into build/web
    python tools/build_web.py --serve         # build, then serve it on http://127.0.0.1:8000/
    python tools/build_web.py --site          # the docs site (mkdocs) with the page under site/app/

The page runs flopcalc's own package in the browser through Pyodide (CPython compiled to WebAssembly),
from the npm registry's ``pyodide`` package: ``npm install pyodide@PYODIDE_VERSION`` into
``build/npm`` the first time (or ``--pyodide DIR``, a folder that holds ``pyodide.mjs``). The build holds

- ``index.html``, ``app.js``, ``app.css``: the page (``web/``);
- ``pyodide/``: Pyodide's runtime, the five files it loads (nothing else is fetched: its package lock is
  given inline, from ``build.json``'s ``abi``);
- ``flopcalc.zip``: flopcalc's package, which the page unpacks into Pyodide's file system (whole: the
  command modules import a few pure-Python parts of the torch door, ``training/schedule.py``; what
  imports torch is never reached by ``table``);
- ``build.json``: flopcalc's and Pyodide's versions, Pyodide's ABI and ``flopcalc.zip``'s sha256;
- ``snapshot.bin``: Python's memory with flopcalc imported and warmed (Pyodide's memory snapshot, made here
  in headless Chromium by ``web/make-snapshot.html``), which the page restores instead of starting Python:
  interactive in about 2 s instead of 5 on a 2-core machine. It is made only where Chromium and Playwright
  are at hand (``--no-snapshot`` skips it); without it, or with one of another build, the page starts Python
  itself.

Nothing on the page comes from any other host; it works with the network off. The build is written to
a temporary folder beside the target and renamed over it, so a failed build leaves the last one whole.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
PYODIDE_VERSION = "314.0.7"
NPM_PREFIX = ROOT / "build" / "npm"
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "package.json")
PAGE_FILES = ("index.html", "app.js", "app.css")
SNAPSHOT_PAGE = "make-snapshot.html"  # build time only: never left in the build
CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")


def pyodide_dir(given: str | None = None) -> Path:
    """The folder with Pyodide's runtime: ``given``, else build/npm's, installed from npm when missing."""
    if given:
        path = Path(given)
    else:
        path = NPM_PREFIX / "node_modules" / "pyodide"
        if not (path / "pyodide.mjs").exists():
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit("build_web: npm is not installed (Debian: apt-get install npm); it fetches "
                                 f"pyodide@{PYODIDE_VERSION} from the npm registry, or give --pyodide DIR")
            NPM_PREFIX.mkdir(parents=True, exist_ok=True)
            subprocess.run([npm, "install", "--prefix", str(NPM_PREFIX), "--no-audit", "--no-fund",
                            "--loglevel=error", f"pyodide@{PYODIDE_VERSION}"], check=True)
    missing = [f for f in PYODIDE_FILES if not (path / f).exists()]
    if missing:
        raise SystemExit(f"build_web: {path} is not Pyodide's npm package: no {', '.join(missing)}")
    return path


def package_zip(target: Path) -> list[str]:
    """flopcalc's package as a zip of ``flopcalc/...`` files; the names it holds."""
    pkg = ROOT / "flopcalc"
    names = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(pkg.rglob("*")):
            rel = path.relative_to(pkg)
            if not path.is_file() or "__pycache__" in rel.parts:
                continue
            if path.suffix not in (".py", ".json", ".csv", ".md", ".toml", ".txt"):
                continue
            name = f"flopcalc/{rel.as_posix()}"
            z.write(path, name)
            names.append(name)
    return names


def chromium() -> str | None:
    """Chromium's binary (Debian's), or None."""
    return next((p for p in CHROMIUM if Path(p).exists()), None) or shutil.which("chromium")


def make_snapshot(folder: Path) -> int:
    """``folder/snapshot.bin``, made by opening ``make-snapshot.html`` from ``folder`` in headless Chromium;
    its size in bytes."""
    from playwright.sync_api import sync_playwright
    shutil.copy2(WEB / SNAPSHOT_PAGE, folder / SNAPSHOT_PAGE)
    httpd = server(folder)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium())
            page = browser.new_context(accept_downloads=True).new_page()
            with page.expect_download(timeout=180_000) as download:
                page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/{SNAPSHOT_PAGE}")
                page.wait_for_function("document.body && document.body.dataset.done", timeout=180_000)
                if page.evaluate("document.body.dataset.done") == "failed":
                    error = page.evaluate("document.body.dataset.error")
                    raise SystemExit(f"build_web: the memory snapshot failed: {error}")
            download.value.save_as(folder / "snapshot.bin")
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
        (folder / SNAPSHOT_PAGE).unlink()
    return (folder / "snapshot.bin").stat().st_size


def build(out: Path = ROOT / "build" / "web", pyodide: str | None = None, snapshot: bool = True) -> Path:
    """The page, Pyodide's runtime and flopcalc's core in ``out`` (and the memory snapshot where Chromium and
    Playwright are at hand, unless ``snapshot`` is False); ``out``."""
    from flopcalc import __version__
    runtime = pyodide_dir(pyodide)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a server may run as another user
    try:
        for name in PAGE_FILES:
            shutil.copy2(WEB / name, tmp / name)
        (tmp / "pyodide").mkdir()
        for name in PYODIDE_FILES:
            shutil.copy2(runtime / name, tmp / "pyodide" / name)
        package_zip(tmp / "flopcalc.zip")
        lock = json.loads((runtime / "pyodide-lock.json").read_text())
        info = {"version": __version__, "pyodide": json.loads((runtime / "package.json").read_text())["version"],
                "abi": lock["info"]["abi_version"], "python": lock["info"].get("python"),
                "zip_sha256": hashlib.sha256((tmp / "flopcalc.zip").read_bytes()).hexdigest()}
        (tmp / "build.json").write_text(json.dumps(info, indent=1) + "\n")
        if snapshot and chromium() and importlib.util.find_spec("playwright"):
            make_snapshot(tmp)
        elif snapshot:
            print("build_web: no memory snapshot (it needs Chromium and Playwright): the page starts Python "
                  "itself, about 3 s slower", file=sys.stderr)
        old = out.with_name(f".{out.name}-old")
        if out.exists():
            if old.exists():
                shutil.rmtree(old)
            out.rename(old)
        tmp.rename(out)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json"}

    def end_headers(self):
        # cacheable, so that a second visit takes the files (and Chromium its compiled WebAssembly) from the cache
        self.send_header("Cache-Control", "max-age=3600")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def server(folder: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A static server of ``folder`` on 127.0.0.1 (``port`` 0: any free one), running in a thread."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                            functools.partial(_Handler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def site(out: Path = ROOT / "site", pyodide: str | None = None, snapshot: bool = True) -> Path:
    """The docs site (``mkdocs build``) with the page under ``app/``."""
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(out)], cwd=ROOT,
                   check=True)
    build(Path(out) / "app", pyodide, snapshot)
    return Path(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="where to build (default build/web; site/ with --site)")
    parser.add_argument("--pyodide", help="a folder holding Pyodide's npm package (default: build/npm's)")
    parser.add_argument("--site", action="store_true", help="build the docs site with the page under app/")
    parser.add_argument("--serve", action="store_true", help="serve the build on 127.0.0.1 until interrupted")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-snapshot", action="store_true", help="leave out the memory snapshot")
    args = parser.parse_args()
    if args.site:
        folder = site(args.out or ROOT / "site", args.pyodide, not args.no_snapshot)
        page = "app/"
    else:
        folder = build(args.out or ROOT / "build" / "web", args.pyodide, not args.no_snapshot)
        page = ""
    print(f"built {folder}")
    if args.serve:
        httpd = server(folder, args.port)
        print(f"serving http://127.0.0.1:{httpd.server_address[1]}/{page} (Ctrl-C stops)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            httpd.shutdown()
            httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
