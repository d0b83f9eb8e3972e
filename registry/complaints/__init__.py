"""Complaints about collection numbers, routed to whoever uses and owns the number
(guideline Articles 22, 23, 27; API.md §13)."""
