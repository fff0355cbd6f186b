"""The browser page (web/, tools/build_web.py) in a real headless Chromium: Debian's ``chromium`` driven by
Playwright with the system browser's path, the page served from 127.0.0.1 by the build tool's own server.

Every zoo model under every convention: the page's totals and per-layer rows (read from the page itself)
equal what ``flopcalc table --format json`` prints here; a bad spec file shows the command's one-line
error; no request leaves 127.0.0.1. Screenshots at a laptop's and a phone's size are kept under
``build/web-test/`` (an artifact for a person to look at). Skipped, with the reason, only where no browser or
Pyodide can be had; CI installs both (``.ci/run``), and its skip gate fails a skip there.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

from flopcalc.conventions import CONVENTIONS
from flopcalc.zoo import MODELS
from support import ROOT

ARTIFACTS = ROOT / "build" / "web-test"
# every host resolves to nothing but the page's own server: a request elsewhere fails, and is listed
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


def _build_web():
    spec = importlib.util.spec_from_file_location("build_web", ROOT / "tools" / "build_web.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site():
    """The built page, served from 127.0.0.1."""
    playwright = pytest.importorskip("playwright.sync_api", reason="no browser can be driven here: playwright "
                                     "is not installed (pip install 'flopcalc[dev]')")
    bw = _build_web()
    browser_path = bw.chromium()  # the build's own search: Debian's binary, else chromium on PATH
    if browser_path is None:
        pytest.skip("no browser can be installed here: no chromium (Debian: apt-get install chromium)")
    try:
        folder = bw.build(ROOT / "build" / "web")
    except SystemExit as e:  # npm missing: Pyodide cannot be had
        pytest.skip(f"no browser can be installed here: {e}")
    httpd = bw.server(folder)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=[OFFLINE])
        yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}/", "browser": browser}
        browser.close()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def page(site):
    """One page, opened once: what it requested, its console errors, and how long it took to be ready."""
    context = site["browser"].new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    start = time.perf_counter()
    page.goto(site["url"] + "#model=mobilenet_v2&alpha=0.75")
    page.wait_for_function("document.body.dataset.ready", timeout=180_000)
    opened = time.perf_counter() - start
    assert page.evaluate("document.body.dataset.ready") == "true", page.inner_text("#status")
    t = page.evaluate("window.flopcalcTimings")
    ready = t["ready_ms"]
    assert t["snapshot"] is True  # Python restored from the build's memory snapshot, not started afresh
    again = page.context.new_page()  # the same browser's cache: a second visit
    again.goto(site["url"] + "#model=mobilenet_v2&alpha=0.75")
    again.wait_for_function("document.body.dataset.ready", timeout=180_000)
    warm = again.evaluate("window.flopcalcTimings.ready_ms")
    again.close()
    print(f"\npage interactive {ready} ms after navigation ({opened:.2f} s by the test's clock; Python with "
          f"flopcalc up at {t['python_up_ms']} ms, from the memory snapshot: {t['snapshot']}); opened again from "
          f"the browser's cache: {warm} ms", file=sys.stderr)
    page.flopcalc = {"requests": requests, "errors": errors, "ready_ms": ready}
    yield page
    context.close()


def cli_json(cli, *argv) -> dict:
    code, out, err = cli("table", *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def page_numbers(page) -> dict:
    """What the page shows: the totals and every per-layer row, read from the page's own elements."""
    return page.evaluate("""() => ({
        ops: document.getElementById('total-macs').dataset.value,
        params: document.getElementById('total-params').dataset.value,
        rows: [...document.querySelectorAll('#layers tbody tr')].map(tr => [tr.dataset.name, tr.dataset.params,
                                                                           tr.dataset.ops]),
        kinds: [...document.querySelectorAll('#kinds tbody tr')].map(tr => [tr.dataset.kind, tr.dataset.params,
                                                                          tr.dataset.ops]),
        error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
        command: document.getElementById('command').textContent})""")


def expected(doc: dict) -> dict:
    key = doc["convention"]["key"]
    text = lambda v: "" if v is None else str(v)  # noqa: E731
    return {"ops": text(doc["total"][key]), "params": text(doc["total"]["params"]),
            "rows": [[r["name"], text(r["params"]), text(r[key])] for r in doc["layers"]],
            "kinds": [[k, text(v["params"]), text(v[key])] for k, v in doc["by_kind"].items()]}


def test_the_page_opens_offline_and_shows_v2(page, cli):
    shown = page_numbers(page)
    want = expected(cli_json(cli, "mobilenet_v2", "--alpha", "0.75"))
    assert {k: shown[k] for k in want} == want and shown["error"] is None
    assert shown["command"] == "flopcalc table mobilenet_v2 --alpha 0.75"
    assert page.flopcalc["errors"] == []
    outside = [u for u in page.flopcalc["requests"] if not u.startswith("http://127.0.0.1:")]
    assert outside == [] and any(u.endswith("/flopcalc.zip") for u in page.flopcalc["requests"])
    page.screenshot(path=str(ARTIFACTS / "page-1280x800.png"), full_page=True)


@pytest.mark.parametrize("model", list(MODELS))
def test_every_number_equals_the_clis_under_every_convention(page, cli, model, monkeypatch):
    """Each zoo model at a width and resolution of its own, under each convention (a setting a convention
    cannot count shows the command's error, the same line as the command line prints). The page has no torch,
    so its FlopCounterMode convention takes torch 2.14's multi-query attention (not counted); the command
    line here is told the same (capture.broadcast_heads_take_math_path), whatever torch this suite has."""
    from flopcalc import capture
    monkeypatch.setattr(capture, "broadcast_heads_take_math_path", lambda: False)
    for convention in CONVENTIONS:
        page.evaluate("(s) => window.flopcalcSet(s)", {"model": model, "alpha": "0.75", "resolution": "160",
                                                      "classes": "", "convention": convention})
        shown = page_numbers(page)
        argv = [model, "--alpha", "0.75", "--resolution", "160", "--convention", convention]
        code, out, err = cli("table", *argv, "--format", "json")
        if code != 0:
            assert shown["error"] == err.strip(), (model, convention)
            continue
        assert shown["error"] is None, (model, convention, shown["error"])
        want = expected(json.loads(out))
        assert {k: shown[k] for k in ("ops", "params", "rows", "kinds")} == want, (model, convention)


def test_a_resolution_pair_classes_and_the_downloads_are_the_clis(page, cli):
    page.evaluate("(s) => window.flopcalcSet(s)", {"model": "mobilenet_v3_small", "alpha": "1.0",
                                                  "resolution": "320x240", "classes": "10", "convention": "fvcore"})
    argv = ["mobilenet_v3_small", "--alpha", "1.0", "--resolution", "320x240", "--classes", "10",
            "--convention", "fvcore"]
    assert {k: v for k, v in page_numbers(page).items() if k in ("ops", "params", "rows")} == {
        k: v for k, v in expected(cli_json(cli, *argv)).items() if k != "kinds"}
    for fmt in ("json", "csv"):
        with page.expect_download() as download:
            page.click(f"#download-{fmt}")
        text = Path(download.value.path()).read_text()
        assert text == cli("table", *argv, "--format", fmt)[1], fmt
    assert "model=mobilenet_v3_small" in page.url and "resolution=320x240" in page.url  # the settings' link


def test_a_link_with_settings_opens_them(site, cli):
    page = site["browser"].new_page()
    page.goto(site["url"] + "#model=mnasnet&alpha=0.5&resolution=192&convention=thop")
    page.wait_for_function("document.body.dataset.ready", timeout=180_000)
    want = expected(cli_json(cli, "mnasnet", "--alpha", "0.5", "--resolution", "192", "--convention", "thop"))
    assert {k: page_numbers(page)[k] for k in want} == want
    page.close()


def test_a_spec_file_is_counted_and_a_bad_one_shows_its_one_line_error(page, cli, tmp_path):
    good = (ROOT / "examples" / "efficientnet_b0.toml").read_text()
    page.evaluate("(s) => window.flopcalcSet(s)", {"spec": good, "model": "spec file", "alpha": "", "resolution": "",
                                                  "classes": "", "convention": "pytorch"})
    path = tmp_path / "spec.toml"
    path.write_text(good)
    assert {k: page_numbers(page)[k] for k in ("ops", "params", "rows")} == {
        k: v for k, v in expected(cli_json(cli, str(path))).items() if k != "kinds"}
    bad = good.replace('block = "mbconv"', 'block = "resnet"', 1)
    page.evaluate("(s) => window.flopcalcSet(s)", {"spec": bad})
    path.write_text(bad)
    code, _, err = cli("table", str(path))
    shown = page_numbers(page)["error"]
    assert code == 2 and shown == err.strip().replace(str(path), "/tmp/flopcalc-page/spec.toml")
    assert "\n" not in shown and "got 'resnet'" in shown


def test_sorting_the_layers_by_ops(page):
    page.evaluate("(s) => window.flopcalcSet(s)", {"model": "mobilenet_v2", "alpha": "1.0", "resolution": "224",
                                                  "classes": "", "convention": "pytorch"})
    ops = "[...document.querySelectorAll('#layers tbody tr')].map(tr => Number(tr.dataset.ops))"
    page.click('#layers th[data-key="macs"]')  # a number's first click: the largest first
    largest = page.evaluate(ops)
    assert largest == sorted(largest, reverse=True) and largest[0] == 20_070_400  # V2's most expensive layer
    page.click('#layers th[data-key="macs"]')  # the second: the smallest first
    assert page.evaluate(ops) == sorted(largest)
    page.click('#layers th[data-key="index"]')
    assert page.evaluate("[...document.querySelectorAll('#layers tbody tr')].map(tr => tr.dataset.name)")[:2] == [
        "features.0.0", "features.0.1"]


def test_redraw_time_and_a_phone_sized_screenshot(site, page):
    """A change of alpha redraws V2 (Python's run and the page's drawing): timed by the page, printed."""
    times = []
    for alpha in ("0.5", "0.75", "1.0", "1.3", "1.4", "0.35"):
        t = page.evaluate("(s) => window.flopcalcSet(s)", {"model": "mobilenet_v2", "alpha": alpha, "resolution": "",
                                                           "classes": "", "convention": "pytorch"})
        times.append(t["redraw_ms"])
    print(f"\nV2 redraw on a change of alpha: {sorted(times)} ms (median {sorted(times)[len(times) // 2]})",
          file=sys.stderr)
    phone = site["browser"].new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    phone.goto(site["url"] + "#model=mobilenet_v3_large&alpha=1.0")
    phone.wait_for_function("document.body.dataset.ready", timeout=180_000)
    width = phone.evaluate("document.documentElement.scrollWidth")
    phone.screenshot(path=str(ARTIFACTS / "page-390x844.png"), full_page=False)
    phone.close()
    assert width <= 390  # nothing wider than the phone: the tables scroll inside their boxes


def test_without_its_snapshot_or_with_a_stale_one_the_page_starts_python_itself(site, cli):
    """A missing snapshot.bin, or one made from another flopcalc.zip (build.json's sha256 differs): Python
    starts afresh (slower), never running the snapshot's stale code, and the numbers are the same."""
    want = expected(cli_json(cli, "mobilenet_v1", "--alpha", "0.5"))["ops"]
    for case in ("missing", "stale"):
        context = site["browser"].new_context()
        page = context.new_page()
        if case == "missing":
            page.route("**/snapshot.bin", lambda route: route.fulfill(status=404, body="not here"))
        else:
            def stale(route):
                info = json.loads(route.fetch().text())
                route.fulfill(json={**info, "zip_sha256": "0" * 64})
            page.route("**/build.json", stale)
        page.goto(site["url"] + "#model=mobilenet_v1&alpha=0.5")
        page.wait_for_function("document.body.dataset.ready", timeout=180_000)
        assert page.evaluate("window.flopcalcTimings.snapshot") is False, case
        assert page_numbers(page)["ops"] == want, case
        context.close()
