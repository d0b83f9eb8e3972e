"""The telecom whitelist: resources, their decision state, and the trace answer (API.md §6)."""
