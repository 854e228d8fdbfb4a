"""Facial emotion recognition: one pipeline for the app, the CLI and the benchmarks."""

__version__ = "0.1.0"
