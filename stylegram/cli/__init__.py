"""Command-line interface: ``app`` (every command group registered) and ``main`` (exit codes)."""

from .app import app, main

__all__ = ["app", "main"]
