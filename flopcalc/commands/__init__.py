"""The commands, one module per family, each holding its commands' parsers and runs side by side.

:data:`COMMANDS` lists them in ``flopcalc --help`` order with the module that holds each. A family
module imports only the light core at the top; torch and the extras are imported inside a run,
through :func:`flopcalc.commands.runtime.torch_door`.
"""

from __future__ import annotations

import importlib

COMMANDS: dict[str, str] = {
    "table": "analysis", "reconcile": "conventions", "spec": "analysis", "train": "training",
    "evaluate": "training", "predict": "training", "experiment": "experiment", "conventions": "conventions",
    "separable": "analysis", "sweep": "sweep", "budget": "sweep", "published": "conventions",
    "models": "analysis", "machine": "latency", "bench": "latency", "export": "latency", "report": "report",
    "verify": "verify",
}


def family(command: str):
    """The module that holds ``command``."""
    return importlib.import_module(f"{__name__}.{COMMANDS[command]}")
