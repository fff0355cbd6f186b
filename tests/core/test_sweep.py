"""flopcalc budget: every config of the grid that fits is listed, nothing that does not, the
most multiply-adds first; --near picks, per model, the configs closest to the target. Expected
sets are recomputed here from flopcalc.analyze over the same grid, config by config."""

from __future__ import annotations

import json

import flopcalc
from flopcalc.sweep import BUDGET_ALPHAS

MODELS = ("mobilenet_v1", "mobilenet_v2")


def _grid(resolutions):
    return {(m, a, r): flopcalc.analyze(m, a, r).total for m in MODELS for a in BUDGET_ALPHAS for r in resolutions}


def test_budget_lists_exactly_the_configs_that_fit(cli):
    code, out, err = cli("budget", "--madds", "60000000", "--params", "2000000", "--resolution", "160,224",
                         "--models", ",".join(MODELS), "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["configs"]
    got = {(r["model"], r["config"]["alpha"], r["config"]["resolution"][0]) for r in rows}
    want = {k for k, t in _grid((160, 224)).items() if t.macs <= 60_000_000 and t.params <= 2_000_000}
    assert got == want and len(got) > 10
    assert [r["macs"] for r in rows] == sorted((r["macs"] for r in rows), reverse=True)


def test_near_picks_the_closest_configs_of_each_model(cli):
    code, out, err = cli("budget", "--near", "300000000", "--resolution", "224", "--models", ",".join(MODELS),
                         "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["configs"]
    grid = _grid((224,))
    for m in MODELS:
        mine = [r for r in rows if r["model"] == m]
        closest = sorted(abs(t.macs - 300_000_000) for (mm, _, _), t in grid.items() if mm == m)[:3]
        assert sorted(abs(r["macs"] - 300_000_000) for r in mine) == closest


def test_nothing_fits_names_the_cheapest(cli):
    code, out, err = cli("budget", "--madds", "1000", "--models", "mobilenet_v1")
    assert code == 2 and err.count("\n") == 1 and "the cheapest is mobilenet_v1 alpha 0.1 at 96x96" in err, err
    code, out, err = cli("budget")
    assert code == 2 and "--madds" in err
