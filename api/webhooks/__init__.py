"""Webhook delivery: where a member's events may be posted, the poster, the worker."""
