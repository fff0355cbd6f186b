"""The views: every result as a Document (:mod:`flopcalc.output`), one module per command family.
No torch, no argparse, no I/O; nothing below imports them (tests/contracts/test_layering.py)."""
