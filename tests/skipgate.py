"""The skip gate: under CI (``CI=true``, which ``.ci/run`` sets), a test that skips for any
reason other than the known ones below fails the run. tests/conftest.py takes its hooks.

A skip is known when its reason contains one of KNOWN_SKIPS' keys; each says why CI may skip it.
Anything else that skips under CI (a missing package, a missing tool, a platform check that
misfired) hides tests that should have run, so the run ends with exit status 1 and lists them."""

from __future__ import annotations

import os

import pytest

KNOWN_SKIPS = {
    "root writes into a read-only folder": "CI runs as root, who can write into a read-only folder; the "
                                           "permission case is checked where the suite runs unprivileged",
    "torchvision is installed here": "the message for a missing torchvision is checked only where it is "
                                     "missing (CI never installs it)",
    "has no Keras counterpart": "the live peer test runs Keras only on the networks keras.applications has "
                                "(V1-V3): a spec file's network and the zoo's newer models have none",
}


def strict() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def unknown(skips: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (test, reason) pairs that no known reason covers."""
    return [(node, reason) for node, reason in skips if not any(k in reason for k in KNOWN_SKIPS)]


_SKIPS: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _SKIPS.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_sessionfinish(session, exitstatus):
    if not strict():
        return
    bad = unknown(_SKIPS)
    if bad:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", f"CI: {len(bad)} test(s) skipped for a reason not in tests/skipgate.py",
                               red=True)
            for node, reason in bad:
                reporter.write_line(f"{node}: {reason}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
