"""One output layer for every command: a :class:`Document` of tables, written as text,
Markdown, CSV, JSON or any of tabulate's formats.

A command builds one Document: the JSON object (``data``), the tables a person reads
(``tables``, with typed columns whose keys are the JSON keys) and the prose around them.
:func:`render` turns it into the format asked for, so every command names the same
quantity the same way in every format (``params``, ``macs``, ``input_shape``, ...), CSV is
always plain integers under those keys, and a new command gets every format for free.
The JSON shapes are documented in ``flopcalc/schema.json``.

``plain`` and ``github`` are written here (a few lines, no import cost: the main job must
start in a blink and need nothing beyond Python); every other table format is tabulate's,
imported only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .errors import UserError

BUILTIN_FORMATS = ("plain", "github", "csv", "json")
TABULATE_HINT = "pip install tabulate (or install flopcalc itself: pip install .)"


class FormatError(UserError):
    """An output format that cannot be written here; the message is one line."""


def check_format(name: str) -> str:
    """``name`` if it is a format flopcalc can write, else a one-line :class:`FormatError`."""
    if name in BUILTIN_FORMATS:
        return name
    try:
        import tabulate
    except ImportError:
        raise FormatError(f"format {name!r} is one of tabulate's or unknown, and tabulate is not "
                          f"installed: {TABULATE_HINT}; built in: {', '.join(BUILTIN_FORMATS)}") from None
    if name not in tabulate.tabulate_formats:
        raise FormatError(f"unknown format {name!r}; accepted: {', '.join(BUILTIN_FORMATS)}, or one of "
                          f"tabulate's: {', '.join(f for f in tabulate.tabulate_formats if f not in BUILTIN_FORMATS)}")
    return name


# ---------------------------------------------------------------------------- numbers

_PREFIXES = ("", "k", "M", "G", "T", "P", "E", "Z", "Y", "R", "Q")


def _rounded(n: int, scale: int, digits: int) -> str:
    """``n / scale`` to ``digits`` decimals, half up, in integers alone (exact at any size)."""
    q = (2 * n * 10**digits + scale) // (2 * scale)
    whole, frac = divmod(q, 10**digits)
    return f"{whole}.{frac:0{digits}d}" if digits else str(whole)


def si(n: int, unit: str = "", digits: int = 2) -> str:
    """``209069792`` -> ``209.07 M``: exact for ints of any size (integer arithmetic, no float),
    scientific notation past the last SI prefix (Q, 10^30)."""
    if n < 0:
        return "-" + si(-n, unit, digits)
    if n >= 1000 ** len(_PREFIXES):
        e = len(str(n)) - 1
        mantissa = _rounded(n, 10**e, digits)
        if mantissa.startswith("10."):  # 9.999... rounded up to the next power of ten
            e, mantissa = e + 1, _rounded(n, 10 ** (e + 1), digits)
        return f"{mantissa}E+{e} {unit}".rstrip()
    k = 0
    while k + 1 < len(_PREFIXES) and n >= 1000 ** (k + 1):
        k += 1
    text = _rounded(n, 1000**k, digits) if k else str(n)
    return f"{text} {_PREFIXES[k]}{unit}".rstrip()


def count_text(n: int, unit: str) -> str:
    """``1 byte``, ``512 bytes``, ``1,500 bytes (1.50 kB)``: singular, and exact beside the
    scaled figure."""
    if n == 1:
        return f"1 {unit}"
    plural = f"{n:,} {unit}s"
    return plural if n < 1000 else f"{plural} ({si(n, 'B' if unit == 'byte' else '')})"


def share(part: int | None, whole: int | None) -> float | None:
    """``part / whole`` as a float (exact int division, so any size works); None if either is
    None (a count a convention does not report) or whole is 0."""
    return part / whole if whole and part is not None else None


def percent(v: float | None, digits: int = 2, *, signed: bool = False) -> str:
    """The one percent formatter: a share (0.1234) as ``12.34%`` (``+12.3%`` when ``signed``); "" for None."""
    if v is None:
        return ""
    return f"{100 * v:{'+' if signed else ''}.{digits}f}%"


def pct(part: int, whole: int) -> str:
    """``part`` as a percentage of ``whole``; "" when the share is 0 or unknown."""
    s = share(part, whole)
    return percent(s) if s else ""


# ---------------------------------------------------------------------------- documents

Shape = Sequence[int]


def shape_str(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def _float(v: float, digits: int) -> str:
    return f"{v:.{digits}f}"


COL_TYPES = ("text", "int", "shape", "resolution", "multiplier", "pct", "float", "ms", "check")


@dataclass(frozen=True)
class Col:
    """A column: ``key`` is its JSON key and its CSV and table header.

    ``type`` says how a value is shown: ``text``; ``int`` (thousands separators in tables,
    plain digits in CSV); ``shape`` (``3x224x224``; a list in JSON); ``resolution`` (``[h, w]`` shown
    ``224`` when square, else ``320x240``; ``HxW`` in CSV); ``multiplier`` (alpha, ``0.75``); ``pct`` (a share in
    [0, 1], shown as ``12.34%``, a zero share blank); ``float`` (``digits`` decimals in tables, 4 unless
    given; full precision in CSV); ``ms`` (milliseconds: a float with 2 decimals unless ``digits``
    says); ``check`` (text, left-aligned). ``csv=False`` marks a column derived for people
    (a share) that CSV leaves out, as JSON does.
    """

    key: str
    type: str = "text"
    csv: bool = True
    digits: int | None = None  # decimals of a float (default 4) or ms (default 2) column
    show: Callable[[Any], str] | None = None  # overrides the type's table form

    def __post_init__(self) -> None:
        if self.type not in COL_TYPES:  # a typo in a view fails where the column is written
            raise ValueError(f"column {self.key!r}: unknown type {self.type!r}; known: {', '.join(COL_TYPES)}")

    @property
    def numeric(self) -> bool:
        return self.type in ("int", "pct", "float", "ms")

    def cell(self, v: Any) -> str:
        if v is None:
            return ""
        if self.show is not None:
            return self.show(v)
        if self.type == "int":
            return f"{v:,}"
        if self.type == "shape":
            return shape_str(v)
        if self.type == "multiplier":
            return f"{v:g}"
        if self.type == "resolution":  # [h, w]: 224 when square, else 320x240
            return str(v[0]) if v[0] == v[1] else shape_str(v)
        if self.type == "pct":
            return percent(v) if v else ""
        if self.type == "float":
            return _float(v, 4 if self.digits is None else self.digits)
        if self.type == "ms":
            return _float(v, 2 if self.digits is None else self.digits)
        return str(v)

    def csv_cell(self, v: Any) -> str:
        if v is None:
            return ""
        if self.type in ("shape", "resolution"):
            return shape_str(v)
        if isinstance(v, bool):
            return "true" if v else "false"
        if self.type in ("float", "ms"):
            return repr(float(v))
        return str(v)


@dataclass
class Table:
    cols: Sequence[Col]
    rows: list[dict]
    title: str = ""


@dataclass
class Document:
    """What a command prints. ``data`` is the JSON object (``command`` is added first);
    ``--format csv`` writes ``csv_table`` if given (a wider table than people read), else
    ``tables[0]``."""

    command: str
    data: dict
    heading: str = ""
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    csv_table: Table | None = None


def render(doc: Document, fmt: str, heading: bool = True) -> str:
    """``doc`` in format ``fmt``; ``heading=False`` leaves the heading out (a page that has its own)."""
    if fmt == "json":
        return json_text({"command": doc.command, **doc.data})
    if fmt == "csv":
        t = doc.csv_table or doc.tables[0]
        cols = [c for c in t.cols if c.csv]
        return csv_text([[c.key for c in cols]] + [[c.csv_cell(r.get(c.key)) for c in cols] for r in t.rows])
    if fmt.startswith("latex"):
        return _latex(doc, fmt, heading)
    parts = []
    if doc.heading and heading:
        parts.append(f"**{doc.heading}**" if fmt == "github" else doc.heading)
    for t in doc.tables:
        body = table_text([[c.cell(r.get(c.key)) for c in t.cols] for r in t.rows],
                          [c.key for c in t.cols], fmt, [not c.numeric for c in t.cols])
        parts.append(f"{t.title}\n\n{body}" if t.title and fmt == "github"
                     else f"{t.title}\n{body}" if t.title else body)
    parts += doc.notes
    return "\n\n".join(parts) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "_": r"\_",
                  "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}"}


def _latex(doc: Document, fmt: str, heading: bool = True) -> str:
    """A fragment to ``\\input`` as it is: the tables, with the heading, titles and notes as LaTeX
    comments. ``latex_raw`` passes cells through unescaped, which flopcalc's text never wants (a
    ``%`` in a share would comment out the rest of the row), so its cells are escaped here."""
    def comment(text: str) -> str:
        return "\n".join(f"% {line}".rstrip() for line in text.splitlines())

    def escape(text: str) -> str:
        return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text) if fmt == "latex_raw" else text

    parts = [comment(doc.heading)] if doc.heading and heading else []
    for t in doc.tables:
        body = table_text([[escape(c.cell(r.get(c.key))) for c in t.cols] for r in t.rows],
                          [escape(c.key) for c in t.cols], fmt, [not c.numeric for c in t.cols])
        parts.append(f"{comment(t.title)}\n{body}" if t.title else body)
    parts += [comment(n) for n in doc.notes]
    return "\n\n".join(parts) + "\n"


def table_text(rows: list[list[str]], headers: list[str], fmt: str, left: Sequence[bool]) -> str:
    """Aligned columns, ``left[i]`` saying whether column i is left-aligned text.

    ``plain`` is tabulate's "simple" layout and ``github`` a Markdown pipe table, both written
    here: importing and running tabulate on a 150-row table took 13 ms of the 72 ms a whole
    ``flopcalc table`` process took (benchmarks/bench_analyzer.py); this takes under 1 ms.
    Every other format goes through tabulate.
    """
    if fmt not in ("plain", "github"):
        from tabulate import tabulate
        return tabulate(rows, headers, tablefmt=fmt, disable_numparse=True,
                        colalign=["left" if l else "right" for l in left])
    widths = [max(len(c) for c in col) for col in zip(headers, *rows)]
    if fmt == "github":
        widths = [max(w, 3) for w in widths]

    def line(row: list[str]) -> str:
        parts = [c.ljust(w) if l else c.rjust(w) for c, w, l in zip(row, widths, left)]
        return f"| {' | '.join(parts)} |" if fmt == "github" else "  ".join(parts).rstrip()

    if fmt == "github":
        rule = "|" + "|".join((":" + "-" * (w + 1)) if l else ("-" * (w + 1) + ":")
                              for w, l in zip(widths, left)) + "|"
    else:
        rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def csv_text(rows: list[list[str]]) -> str:
    import csv
    import io
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def json_text(obj: dict) -> str:
    """Indented JSON, except that each element of a top-level list (a layer) is one line."""
    import json
    parts = []
    for key, value in obj.items():
        if isinstance(value, list) and value:
            inner = ",\n".join(f"    {json.dumps(e)}" for e in value)
            text = f"[\n{inner}\n  ]"
        else:
            text = json.dumps(value)
            if len(text) > 128:  # a short object stays on one line
                text = json.dumps(value, indent=2).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def emit(text: str) -> None:
    """Write a command's output to stdout; a failure to write is an :class:`~flopcalc.errors.OutputError`
    (a closed pipe is left to the caller: the reader went away, nothing is wrong)."""
    import sys
    from .errors import OutputError
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        raise OutputError(f"flopcalc: error: cannot write output: {e.strerror or e}") from None
