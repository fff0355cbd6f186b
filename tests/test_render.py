"""Table layout: aligned columns in plain text, a valid Markdown pipe table for github."""

from __future__ import annotations

from flopcalc.render import detail, shape_str, table_text
from flopcalc import analyze


ROWS = [["features.0.0", "conv", "1,234"], ["fc", "linear", "5"]]


def test_plain_columns_align():
    lines = table_text(ROWS, ["layer", "kind", "MAdds"], "plain", 2).splitlines()
    assert lines[0] == "layer         kind    MAdds"
    assert lines[1] == "------------  ------  -----"
    assert lines[2] == "features.0.0  conv    1,234"
    assert lines[3] == "fc            linear      5"


def test_github_is_a_pipe_table_with_alignment():
    lines = table_text(ROWS, ["layer", "kind", "MAdds"], "github", 2).splitlines()
    assert lines[1] == "|:-------------|:-------|------:|"
    cells = [[c.strip() for c in l.strip("|").split("|")] for l in lines]
    assert cells[0] == ["layer", "kind", "MAdds"] and cells[2] == ["features.0.0", "conv", "1,234"]
    assert len({len(l) for l in lines}) == 1  # every row as wide as the header


def test_detail_and_shapes():
    a = analyze("mobilenet_v2")
    assert detail(a.layer("features.2.conv.1.0")) == "3x3/2 g=96"
    assert detail(a.layer("features.0.2")) == "ReLU6"
    assert detail(a.layer("classifier.0")) == "p=0.2"
    assert detail(a.layer("classifier.1")) == "1280->1000"
    assert shape_str((3, 224, 224)) == "3x224x224" and shape_str((1000,)) == "1000"
