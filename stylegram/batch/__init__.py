"""Batch mode: many stylizations and style caches on Ray (the `scale` extra)."""
