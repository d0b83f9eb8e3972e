"""Signed-request authentication (API.md §2)."""
