"""Benchmarks, run on demand (not collected by pytest)."""
