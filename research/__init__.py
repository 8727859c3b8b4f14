"""Method research (rounds and ablations) cited from ``docs/``; not part of the product.

Run from the repository root as modules (``python -m research.hotspot_round3``), so that they
import the benchmark's helpers from ``bench.hotspot_eval``. See ``research/README.md``.
"""
