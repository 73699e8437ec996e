"""`stylegram bench`: provider and stylize-loop benchmarks (kept apart from the library proper)."""
