"""Other processes' load, the thread default taken from it, and the progress line."""

import io
import subprocess
import sys
import time

import pytest

from flopcalc import cpuload
from flopcalc.cpuload import Load, Sample
from flopcalc.progress import Progress

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")


def test_others_subtracts_this_process():
    """Busy busy work in this process is not 'other processes' load'."""
    start = cpuload.sample()
    t = time.monotonic()
    while time.monotonic() - t < 0.4:
        pass
    value = cpuload.others(start)
    if value is None:
        pytest.skip("no /proc/stat here")
    assert value < cpuload.BUSY_CORES + 0.6  # this process's full core is not in it (a shared machine adds a little)


@linux
def test_a_busy_child_process_is_seen():
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        value = cpuload.measure_load(0.5)
    finally:
        child.kill()
        child.wait()
    assert value is not None and value > 0.6  # one process spinning on a core


def test_the_default_is_the_idle_cores_at_least_one_at_most_torchs(monkeypatch):
    monkeypatch.setattr(cpuload, "cpus", lambda: 2)
    assert cpuload.default_threads(0.0, 2) == 2
    assert cpuload.default_threads(0.3, 2) == 2
    assert cpuload.default_threads(1.2, 2) == 1
    assert cpuload.default_threads(2.0, 2) == 1
    assert cpuload.default_threads(0.0, 1) == 1
    assert cpuload.default_threads(None, 2) == 2  # unknown load: torch's own choice
    monkeypatch.setattr(cpuload, "cpus", lambda: 16)
    assert cpuload.default_threads(5.6, 8) == 8 and cpuload.default_threads(12.2, 8) == 4


def test_too_short_an_interval_is_unknown():
    s = cpuload.sample()
    assert cpuload.others(s, Sample(s.wall + 0.01, s.busy, s.own)) is None
    assert cpuload.others(Sample(0.0, None, 0.0), Sample(1.0, 5.0, 0.0)) is None


def test_load_says_busy_in_json_and_one_line():
    quiet = Load(2, 0.02, 0.1, 0.0)
    assert quiet.busy is False and quiet.warning("bench") is None
    busy = Load(2, 0.05, 1.24, 1.3)
    assert busy.to_json() == {"cpus": 2, "before": 0.05, "during": 1.24, "after": 1.3, "busy": True}
    line = busy.warning("bench")
    assert line.startswith("flopcalc bench: the machine was busy: other processes used up to 1.3 of its 2 CPUs")
    assert "\n" not in line
    assert Load(2, None, None, None).busy is None


def test_progress_on_a_terminal_redraws_one_line_and_clears_it():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    out = Tty()
    with Progress("verify --grid", 3, stream=out) as p:
        for i in range(1, 4):
            p(i, 3)
    text = out.getvalue()
    assert "\n" not in text and "verify --grid  3/3 100%" in text and text.endswith("\r")


def test_progress_is_off_when_not_a_terminal_unless_asked():
    out = io.StringIO()
    with Progress("train", 5, stream=out) as p:
        p.advance()
    assert out.getvalue() == ""
    out = io.StringIO()
    with Progress("train", 5, enabled=True, stream=out) as p:
        for _ in range(5):
            p.advance(note="loss 0.1")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("train  1/5  20%") and lines[-1].startswith("train  5/5 100%")
    assert lines[-1].endswith("loss 0.1") and len(lines) == 2  # at most one a second, and the last


def test_cli_progress_flag_prints_progress_to_stderr_only(cli):
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    code, out, err = cli("verify", "--grid", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32",
                         "--progress", "--format", "json")
    assert code == 0 and out.lstrip().startswith("{")
    assert err.splitlines()[-1].startswith("verify --grid  1/1 100%")
    code, out, err = cli("verify", "--grid", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32",
                         "--format", "json")
    assert code == 0 and err == ""  # stderr is not a terminal here


def test_threads_option_sets_torchs_threads(cli):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        code, out, err = cli("verify", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32", "--threads", "1")
        assert code == 0 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
