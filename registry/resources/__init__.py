"""Collection resources (API.md §6), the write side: supplies, confirmations and filings.

The trace read model (the index, the decision, the answers) is `registry.trace`; it reads
these records from the change log, of every origin, never these tables.
"""
