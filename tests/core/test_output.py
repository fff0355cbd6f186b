"""The output layer: table layouts, exact human-readable numbers, CSV and format checks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flopcalc import analyze
from flopcalc.output import (Col, Document, FormatError, Table, check_format, count_text, render, si,
                             table_text)
from flopcalc.views.layers import detail

ROWS = [["features.0.0", "conv", "1,234"], ["fc", "linear", "5"]]
LEFT = [True, True, False]


def test_plain_columns_align():
    lines = table_text(ROWS, ["name", "kind", "macs"], "plain", LEFT).splitlines()
    assert lines[0] == "name          kind     macs"
    assert lines[1] == "------------  ------  -----"
    assert lines[2] == "features.0.0  conv    1,234"
    assert lines[3] == "fc            linear      5"


def test_github_is_a_pipe_table_with_alignment():
    lines = table_text(ROWS, ["name", "kind", "macs"], "github", LEFT).splitlines()
    assert lines[1] == "|:-------------|:-------|------:|"
    cells = [[c.strip() for c in l.strip("|").split("|")] for l in lines]
    assert cells[0] == ["name", "kind", "macs"] and cells[2] == ["features.0.0", "conv", "1,234"]
    assert len({len(l) for l in lines}) == 1  # every row as wide as the header


def test_tabulate_formats_align_numbers_right():
    pytest.importorskip("tabulate")
    text = table_text(ROWS, ["name", "kind", "macs"], "grid", LEFT)
    assert "| features.0.0 | conv   | 1,234  |" not in text  # numbers are right-aligned
    assert "|  1,234 |" in text and text.startswith("+--")
    latex = table_text(ROWS, ["name", "kind", "macs"], "latex_booktabs", LEFT)
    assert "\\toprule" in latex and "{llr}" in latex


def test_detail():
    a = analyze("mobilenet_v2")
    assert detail(a.layer("features.2.conv.1.0")) == "3x3/2 g=96"
    assert detail(a.layer("features.0.2")) == "ReLU6"
    assert detail(a.layer("classifier.0")) == "p=0.2"
    assert detail(a.layer("classifier.1")) == "1280->1000"


@pytest.mark.parametrize("n, text", [
    (0, "0"), (999, "999"), (1_000, "1.00 k"), (209_069_792, "209.07 M"), (3_504_872, "3.50 M"),
    (999_995, "1000.00 k"),  # rounding at display never changes the prefix chosen from the exact value
    (770_913_104_800, "770.91 G"), (12 * 10**12, "12.00 T"), (5 * 10**15 + 1, "5.00 P"),
    (10**30, "1.00 Q"), (10**33, "1.00E+33"), (2 * 10**400 + 7, "2.00E+400"), (-1_500, "-1.50 k"),
])
def test_si_is_exact_for_any_size(n, text):
    assert si(n) == text


def test_count_text():
    assert count_text(1, "byte") == "1 byte"
    assert count_text(0, "byte") == "0 bytes"
    assert count_text(512, "byte") == "512 bytes"
    assert count_text(1_500, "byte") == "1,500 bytes (1.50 kB)"
    assert count_text(3 * 10**12, "byte") == "3,000,000,000,000 bytes (3.00 TB)"
    assert count_text(7 * 10**15, "byte").endswith("(7.00 PB)")
    assert count_text(10**500, "byte").endswith("(1.00E+500 B)")


DOC = Document("demo", {"rows": []}, "heading", [Table(
    (Col("name"), Col("shape", "shape"), Col("params", "int"), Col("share", "pct", csv=False),
     Col("ratio", "float")),
    [{"name": "a,b", "shape": [3, 8, 8], "params": 1234567, "share": 0.5, "ratio": 1 / 3}])],
    ["a note"])


def test_csv_is_plain_integers_under_the_json_keys():
    assert render(DOC, "csv") == 'name,shape,params,ratio\n"a,b",3x8x8,1234567,0.3333333333333333\n'


def test_text_formats_show_people_numbers():
    text = render(DOC, "plain")
    assert text.startswith("heading\n\n") and "1,234,567" in text and "50.00%" in text and "0.3333" in text
    assert text.endswith("a note\n")
    assert render(DOC, "github").startswith("**heading**\n\n| name")


def test_json_names_the_command_first():
    assert render(DOC, "json").startswith('{\n  "command": "demo",\n  "rows": []')


def test_check_format():
    assert check_format("plain") == "plain" and check_format("csv") == "csv"
    pytest.importorskip("tabulate")
    assert check_format("rst") == "rst"
    with pytest.raises(FormatError, match=r"unknown format 'xml'; accepted: plain, github, csv, json, .*latex"):
        check_format("xml")


def test_tabulate_format_without_tabulate_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tabulate", None)  # import tabulate now raises ImportError
    assert check_format("json") == "json"
    with pytest.raises(FormatError, match=r"format 'grid' .* tabulate is not installed: pip install tabulate"):
        check_format("grid")


@pytest.mark.parametrize("fmt", ["latex", "latex_raw", "latex_booktabs", "latex_longtable"])
def test_latex_is_a_fragment_to_input_as_it_is(cli, fmt):
    """Every line outside a tabular environment is a LaTeX comment or blank, and no cell holds an
    unescaped % (which would comment out the rest of its row); with pdflatex installed, it compiles."""
    import re
    import shutil
    import subprocess
    pytest.importorskip("tabulate")
    code, out, err = cli("table", "mobilenet_v2", "--top", "3", "--format", fmt)
    assert code == 0, err
    env = "longtable" if fmt == "latex_longtable" else "tabular"
    inside = False
    for line in out.splitlines():
        if line.startswith(f"\\begin{{{env}}}"):
            inside = True
        elif line.startswith(f"\\end{{{env}}}"):
            inside = False
        elif inside:
            assert not re.search(r"(?<!\\)%", line), line
        else:
            assert line == "" or line.startswith("%"), line
    assert out.count(f"\\begin{{{env}}}") == out.count(f"\\end{{{env}}}") == 2
    if shutil.which("pdflatex"):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            doc = ("\\documentclass{article}\\usepackage{booktabs,longtable}\\begin{document}\n" + out
                   + "\\end{document}\n")
            (Path(tmp) / "t.tex").write_text(doc)
            r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "t.tex"], cwd=tmp, capture_output=True)
            assert r.returncode == 0, r.stdout[-2000:]


def test_a_column_of_an_unknown_type_is_refused_where_it_is_written():
    from flopcalc.output import COL_TYPES, Col
    with pytest.raises(ValueError, match="column 'x': unknown type 'percent'"):
        Col("x", "percent")
    assert all(Col("x", t).type == t for t in COL_TYPES)
