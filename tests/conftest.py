"""Shared by every test folder: the helpers' folder on sys.path, the Hypothesis profiles, the
``cli`` fixture, the markers by folder, and the CI switch: with ``CI`` set (``.ci/run`` sets
``CI=true``), a missing optional dependency fails the run instead of skipping, and any skip
beyond the known ones (tests/skipgate.py) fails it too, so CI cannot go green on skips."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # support.py, strategies.py, ... from any folder

from hypothesis import HealthCheck, Phase, settings  # noqa: E402

import support  # noqa: E402
from skipgate import pytest_runtest_logreport, pytest_sessionfinish  # noqa: E402,F401 (hooks)

# CI: derandomized and bounded, so a run is repeatable and its length predictable.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
# tools/mutate: CI's examples, but a failure is reported as found, not shrunk (shrinking a failure a
# mutant caused takes minutes, and only whether a test fails counts there)
settings.register_profile("mutate", derandomize=True, deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow], report_multiple_bugs=False,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

if support.STRICT:
    _importorskip = pytest.importorskip

    def _required(modname, *args, **kwargs):
        """Under CI, an optional dependency that is missing is a failure, not a skip."""
        try:
            return _importorskip(modname, *args, **kwargs)
        except pytest.skip.Exception as e:
            raise pytest.fail.Exception(f"CI: {modname} is not installed ({e}); tools/test installs every "
                                        "extra, so this is a broken environment, not a skip",
                                        pytrace=False) from None

    pytest.importorskip = _required

# the markers every test gets from where it lives (tools/test -m "not torch": the torch-free tests)
FOLDER_MARKERS = {"nn": ("torch",), "training": ("torch",)}
PEERS = ("test_peers.py",)  # the peer tools (ptflops, thop, torchinfo, keras)


def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).resolve().parent
    for item in items:
        rel = Path(str(item.path)).resolve().relative_to(tests)
        for marker in FOLDER_MARKERS.get(rel.parts[0], ()):
            item.add_marker(marker)
        if rel.name in PEERS or "live" in item.name:
            item.add_marker("peers")


def pytest_terminal_summary(terminalreporter):
    if support.UNCHECKED:
        terminalreporter.write_line(f"{len(support.UNCHECKED)} JSON documents' schema checks left out: jsonschema "
                                    "is not installed (pip install '.[dev]')")


def pytest_report_header(config):
    left_out = support.left_out()
    if left_out:
        return [f"left out (not installed): {', '.join(f'tests/{f}/ needs {m}' for f, m in left_out)}"]
    return []


@pytest.fixture
def cli(capsys):
    """Run ``flopcalc ARGV...`` in-process: (exit status, stdout, stderr)."""
    from flopcalc.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return run
