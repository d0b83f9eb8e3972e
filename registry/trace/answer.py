"""Trace answers in the shape of API.md §6, built from the index and its verdicts.

A batch shares one window and one checkpoint, and the references to members are made once
per member and reused, so an answer costs little more than its decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from registry.trace.decision import Party, window
from registry.trace.index import TraceIndex
from registry.trace.model import Checkpoint, PrincipalRef, SupplierRef, TraceResult, UserRef

_encode = msgspec.json.Encoder().encode
_VALUE_FIRST = b'{"value":""'


class Answers:
    """Builds answers for one index; caches member references while the member is unchanged."""

    def __init__(self, index: TraceIndex, node_id: str) -> None:
        self.index = index
        self.node_id = node_id
        self._suppliers: dict[int, tuple[Party, SupplierRef]] = {}
        self._users: dict[int, tuple[Party, UserRef]] = {}
        self._principals: dict[int, tuple[Party, PrincipalRef]] = {}
        # Encoded answers (but their value) for one moment and one version of the index.
        self._rests: dict[tuple[int, str | None, str | None], bytes] = {}
        self._rests_for = (-1, -1)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.node_id, self.index.seqs.get(self.node_id, 0))

    def _supplier(self, index: int) -> SupplierRef:
        party = self.index.parties[index]
        cached = self._suppliers.get(index)
        if cached is None or cached[0] is not party:
            cached = self._suppliers[index] = (party, SupplierRef(party.id, party.name,
                                                                  party.uscc))
        return cached[1]

    def _user(self, index: int) -> UserRef:
        party = self.index.parties[index]
        cached = self._users.get(index)
        if cached is None or cached[0] is not party:
            cached = self._users[index] = (party, UserRef(party.id, party.name, party.kind))
        return cached[1]

    def _principal(self, index: int) -> PrincipalRef:
        party = self.index.parties[index]
        cached = self._principals.get(index)
        if cached is None or cached[0] is not party:
            cached = self._principals[index] = (party, PrincipalRef(party.id, party.name))
        return cached[1]

    def _links(self, state: int, at: int) -> tuple[bool, str | None, SupplierRef | None,
                                                   UserRef | None, tuple[PrincipalRef, ...]]:
        supply = self.index.states[state]
        if supply is None:
            return (False, "unregistered", None, None, ())
        verdict = self.index.verdict(state, at)
        return (verdict.reason is None, verdict.reason, self._supplier(supply.supplier),
                self._user(supply.user), tuple(self._principal(p) for p in verdict.principals))

    def trace(self, values: Sequence[str], at: int) -> list[TraceResult]:
        """One answer per value, in order, all decided at `at` against one checkpoint."""
        open_window = window(at)
        checkpoint = self.checkpoint()
        # Resources supplied alike share a state, and so every link of their answer.
        links: dict[int, tuple[bool, str | None, SupplierRef | None, UserRef | None,
                               tuple[PrincipalRef, ...]]] = {}
        results = []
        for value, kind, state, block in self.index.find_all(values):
            known = links.get(state)
            if known is None:
                known = links[state] = self._links(state, at)
            traceable, reason, supplier, user, principals = known
            results.append(TraceResult(value, kind, traceable, reason, supplier, user,
                                       principals, open_window, checkpoint, block))
        return results

    def trace_json(self, values: Sequence[str], at: int) -> bytes:
        """`{"results": [...]}` for a batch, as JSON: exactly what encoding trace() gives.

        Answers that differ only in their value share every other byte, so each distinct
        rest is encoded once (and kept for the next batch at the same moment, until the
        index changes) and the values are spliced in.
        """
        open_window = window(at)
        checkpoint = self.checkpoint()
        if self._rests_for != (at, self.index.version):
            # Kept while requests come within the same second and nothing changed.
            self._rests = {}
            self._rests_for = (at, self.index.version)
        rests = self._rests
        parts = []
        for value, kind, state, block in self.index.find_all(values):
            rest = rests.get((state, kind, block))
            if rest is None:
                traceable, reason, supplier, user, principals = self._links(state, at)
                whole = _encode(TraceResult("", kind, traceable, reason, supplier, user,
                                            principals, open_window, checkpoint, block))
                assert whole.startswith(_VALUE_FIRST)  # value is the first field
                rest = rests[(state, kind, block)] = whole[len(_VALUE_FIRST):]
            parts.append(b'{"value":' + _encode(value) + rest)
        return b'{"results":[' + b",".join(parts) + b"]}"
