"""A registry from spec type to the one function that handles it (like torch's
``register_flop_formula``: registered where the function is defined, duplicates refused)."""

from __future__ import annotations

from typing import Callable


class Registry(dict):
    """``{spec type: function}``; :meth:`register` is the decorator that fills it."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def register(self, spec_type: type) -> Callable:
        def add(fn: Callable) -> Callable:
            if spec_type in self:
                raise RuntimeError(f"a {self.what} for {spec_type.__name__} is already registered")
            self[spec_type] = fn
            return fn
        return add
