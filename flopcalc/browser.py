"""What the browser page (``web/``, run by Pyodide) calls: the command line itself, in process.

The page does not compute anything of its own: every number it shows is the output of
``flopcalc table ... --format json`` run through :func:`flopcalc.cli.main` here, and its downloads are
that command's JSON and CSV, byte for byte. A bad setting or spec file gives the command's own one-line
error. Only the pure-Python core is imported (Pyodide has no torch or NumPy).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import time

SPEC_PATH = "/tmp/flopcalc-page/spec.toml"  # where the page writes a pasted or uploaded spec file
SNAPSHOT_OF = None  # the sha256 of the flopcalc.zip a memory snapshot of the page was made with (tools/build_web.py)


@functools.lru_cache(maxsize=1)
def _parser():
    from .cli import build_parser
    return build_parser()


def run(argv: list[str]) -> dict:
    """``flopcalc ARGV``: its exit status, stdout and stderr, and the milliseconds it took."""
    from .cli import main
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv], _parser())
        except SystemExit as e:  # argparse's own exits (a bad option): status 2, its message on stderr
            code = e.code if isinstance(e.code, int) else 2
    return {"code": int(code), "out": out.getvalue(), "err": err.getvalue().strip(),
            "ms": (time.perf_counter() - start) * 1000}


def write_spec(text: str) -> str:
    """Put a pasted or uploaded spec file where the page's commands read it; its path."""
    import os
    os.makedirs(os.path.dirname(SPEC_PATH), exist_ok=True)
    with open(SPEC_PATH, "w", encoding="utf-8") as f:
        f.write(text)
    return SPEC_PATH


def table_args(model: str, alpha: str, resolution: str, classes: str, convention: str) -> list[str]:
    """The command line of one page setting (empty fields take the command's defaults)."""
    from .walk import DEFAULT_CONVENTION
    argv = ["table", model]
    for flag, value in (("--alpha", alpha), ("--resolution", resolution), ("--classes", classes),
                        ("--convention", "" if convention == DEFAULT_CONVENTION else convention)):
        if str(value).strip():
            argv += [flag, str(value).strip()]
    return argv


def page(model: str, alpha: str = "", resolution: str = "", classes: str = "", convention: str = "") -> str:
    """Everything the page shows for one setting, as JSON: the table command's JSON (or its error), its
    command line, and the standard-vs-separable saving of the model's depthwise-separable pairs."""
    argv = table_args(model, alpha, resolution, classes, convention)
    result = run([*argv, "--format", "json"])
    doc: dict = {"argv": ["flopcalc", *argv], "code": result["code"], "error": result["err"], "ms": result["ms"]}
    if result["code"] != 0:
        return json.dumps(doc)
    doc["separable"] = separable_pairs(json.loads(result["out"]))
    return json.dumps(doc)[:-1] + ', "table": ' + result["out"] + "}"  # the command's JSON as it printed it


def download(fmt: str, model: str, alpha: str = "", resolution: str = "", classes: str = "",
             convention: str = "") -> str:
    """What ``flopcalc table ... --format FMT`` prints for the setting (``json`` or ``csv``)."""
    return run([*table_args(model, alpha, resolution, classes, convention), "--format", fmt])["out"]


def separable_pairs(table: dict) -> dict:
    """Each depthwise conv and the pointwise conv after it (the V1 paper's separable pair), against one
    standard conv with the same input, output and stride: the exact ratio of their multiply-adds beside
    eq. (5)'s 1/N + 1/D_K^2, by :func:`flopcalc.walk.separable` (the ``separable`` command's), from the
    layers' shapes and ops (so under any convention)."""
    from .walk import separable
    rows = table["layers"]
    pairs, standard, factored = [], 0, 0
    for i, row in enumerate(rows):
        if row["kind"] != "depthwise":  # (the saving is in multiply-adds, whatever the convention counts)
            continue
        pw = next((r for r in rows[i + 1:] if r["kind"] in ("pointwise", "depthwise", "conv")), None)
        if pw is None or pw["kind"] != "pointwise" or pw["input_shape"][0] != row["output_shape"][0]:
            continue
        kernel, stride = _kernel_stride(row["op"])
        c, h, _ = row["input_shape"]
        s = separable(kernel, c, pw["output_shape"][0], h, stride)
        if s.out_size != row["output_shape"][1]:  # a non-square or unpadded map: not the paper's layer
            continue
        pairs.append({"depthwise": row["name"], "pointwise": pw["name"], "kernel": kernel, "in_c": c,
                      "out_c": s.out_c, "size": h, "stride": stride, "standard": s.standard.macs,
                      "separable": s.separable.macs, "ratio": s.separable.macs / s.standard.macs,
                      "closed_form": float(s.closed_form)})
        standard += s.standard.macs
        factored += s.separable.macs
    return {"pairs": pairs, "standard": standard, "separable": factored,
            "ratio": factored / standard if standard else None}


def _kernel_stride(op: str) -> tuple[int, int]:
    """``3x3/2 g=32`` -> (3, 2)."""
    size, _, rest = op.partition("/")
    return int(size.split("x")[0]), int(rest.split()[0])
