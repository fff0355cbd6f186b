"""What several views share: a config and a convention as every command's JSON gives them, a
record spread into table and CSV columns, published top-1 as a fraction."""

from __future__ import annotations

from ..output import Col, percent


def config_record(config: dict) -> dict:
    """An analysis's config as every command's JSON gives it (the convention is named apart)."""
    return {k: v for k, v in config.items() if k != "convention"}


def fraction(percent: float | None) -> float | None:
    """A published top-1 as printed (70.6, a percentage) as the fraction every command's JSON uses."""
    return None if percent is None else round(percent / 100, 8)


def flat(rec: dict) -> dict:
    """A JSON record with its config and convention spread into table (and CSV) columns."""
    out = {k: v for k, v in rec.items() if k not in ("config", "convention")}
    out.update(rec.get("config", {}))
    if isinstance(rec.get("convention"), dict):
        out["convention"] = rec["convention"]["name"]
    return out


# top-1 is a fraction in JSON and CSV, shown as a percentage
TOP1_COL = Col("top1", show=lambda v: percent(v, 1))


def ms(v):
    return None if v is None else v * 1e3
