"""``report``: the listing of the files it wrote, as a Document."""

from __future__ import annotations

from ..output import Col, Document, Table


def files_document(paths, out, missing=()) -> Document:
    from pathlib import Path
    rows = [{"file": str(Path(p).relative_to(out)), "bytes": Path(p).stat().st_size} for p in paths]
    notes = [f"not recorded yet under {out}/data and {out}/experiments: {', '.join(missing)}; their sections say so. "
             f"flopcalc report --out {out} --record STEP,... runs and records verify, reconcile, train and bench "
             f"(minutes; bench wants flopcalc machine first, on a quiet machine); flopcalc experiment NAME --out "
             f"{out}/experiments/NAME the experiments"] if missing else []
    return Document("report", {"out": str(out), "files": rows, "not_recorded": list(missing)},
                    f"wrote {len(rows)} files under {out}", [Table([Col("file"), Col("bytes", "int")], rows)], notes)
