"""Per worker, what the contact ledger's routes share: the debtor-hash keys, and the
allowance as both POST /v1/contacts/allowance and GET /v1/trace?callee= answer it."""

from __future__ import annotations

from api.state import NodeState
from api.trace_state import trace_state
from registry.errors import Invalid
from registry.ledger import debtors, store
from registry.ledger.allowance import allowance
from registry.ledger.attribution import attribute
from registry.ledger.debtors import DebtorKeys, UnreadableNumber
from registry.ledger.model import Allowance

_KEYS = "debtor_keys"


def debtor_keys(node: NodeState) -> DebtorKeys:
    """The association's debtor-hash keys, read from data_dir/secrets once per worker."""
    keys: DebtorKeys | None = node.extras.get(_KEYS)
    if keys is None:
        keys = node.extras[_KEYS] = debtors.load(node.settings.data_dir / "secrets")
    return keys


def debtor_number(text: str, field: str) -> str:
    try:
        return debtors.e164(text)
    except UnreadableNumber as exc:
        raise Invalid.field(field, str(exc)) from None


async def ask_allowance(node: NodeState, caller: str, callee: str, at: int) -> Allowance:
    """The allowance for one call: shared by POST /v1/contacts/allowance and trace ?callee=."""
    trace = trace_state(node)
    await trace.feed.ensure_current()
    who = attribute(trace.index, caller, at)
    if who is None:
        raise Invalid.field("caller", "not a phone number or SMS code")
    hashes = debtor_keys(node).hashes(debtor_number(callee, "callee"))
    if trace.ledger.covers(at):  # today and yesterday: in this worker's memory
        counts, terms = trace.ledger.standing(hashes, who.principals, at)
    else:
        async with node.pool.acquire() as db:
            counts, terms = await store.standing(db, hashes, who.principals, at)
    return allowance(who, counts, terms, at)
