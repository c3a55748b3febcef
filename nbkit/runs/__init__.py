"""Experiments: execute notebooks, record runs, compare, rerun and sweep them."""
