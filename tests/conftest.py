import os

import pytest

from hypothesis import HealthCheck, settings

# CI: derandomized and bounded, so a run is repeatable and its length predictable.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def cli(capsys):
    """Run ``flopcalc ARGV...`` in-process: (exit status, stdout, stderr)."""
    from flopcalc.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return run
