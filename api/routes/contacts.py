"""The contact ledger (API.md §12): calls reported by carriers and by the members using the
calling numbers, the allowance asked before a call, and lenders' agreements with debtors.

Bodies here carry debtors' numbers: they are decoded, hashed and dropped, never logged or
answered; errors name the item and field, never the value.
"""

from __future__ import annotations

import time

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.enums import MediaType
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from api.deps import CurrentActor, Db, Node
from api.guards import READ_ONLY
from api.ledger_state import ask_allowance, debtor_keys, debtor_number
from api.routes.trace import epoch_of
from api.trace_state import trace_state
from registry.errors import Forbidden, Invalid
from registry.ledger import rules, store
from registry.ledger.attribution import attribute_all
from registry.ledger.model import (
    MAX_ITEMS,
    Agreement,
    AgreementCreate,
    Allowance,
    AllowanceRequest,
    ContactBatch,
    ContactResult,
    ContactResults,
    LoggedCall,
)

_encode = msgspec.json.Encoder().encode


class ContactController(Controller):
    path = "/v1/contacts"
    tags = ["contacts"]

    @post("/", operation_id="ReportContacts", status_code=HTTP_200_OK)
    async def report(
        self, db: Db, actor: CurrentActor, node: Node, data: JSONBody[ContactBatch]
    ) -> ContactResults:
        """Calls made (by a carrier: any; by a member: only from numbers it uses), all or
        nothing; each attributed by the trace decision at its start."""
        if actor.role != "member":
            raise Forbidden("calls are reported by carriers and the members making them")
        if len(data.items) > MAX_ITEMS:
            raise Invalid.field("items", f"at most {MAX_ITEMS} calls a request")
        calls = rules.read_calls(data.items, int(time.time()))
        trace = trace_state(node)
        await trace.feed.ensure_current()
        who = attribute_all(trace.index, [(c.caller, c.started_at) for c in calls])
        if actor.member_kind != "carrier":
            foreign = [i for i, w in enumerate(who) if w.user_id != actor.id]
            if foreign:
                raise Forbidden(f"items {foreign[:20]} are calls from numbers this member does"
                                " not use")
        keys = debtor_keys(node)
        callees = [c.callee for c in calls]
        logged = [LoggedCall(w.caller, h.hex(), keys.current, c.started_at, c.duration_s,
                             c.channel, w.principals)
                  for c, w, h in zip(calls, who, keys.hash_many(callees), strict=True)]
        # A call held under an older key version is the same call, reported again.
        older = [keys.hash_many(callees, v) for v in keys.older_versions()]
        recent = trace.feed.recent_calls if trace.feed.ledger is not None else None
        taken = await store.take_report(db, actor, logged, older, recent)
        return ContactResults([
            ContactResult(list(w.principals), w.traceable,
                          c is not None and c.over_limit,
                          c.outside_window if c is not None else not rules.in_hours(
                              call.started_at, rules.DEFAULT_HOURS),
                          c is None)
            for call, w, c in zip(calls, who, taken.counted, strict=True)], taken.report_id)

    @post("/allowance", operation_id="ContactAllowance", status_code=HTTP_200_OK,
          opt={READ_ONLY: True})
    async def allowance(self, node: Node, data: JSONBody[AllowanceRequest]) -> Response[Allowance]:
        answer = await ask_allowance(node, data.caller, data.callee, epoch_of(data.at))
        # Encoded here: msgspec straight to bytes, without Litestar's serialising.
        return Response(_encode(answer), media_type=MediaType.JSON)  # type: ignore[arg-type]

    @post("/agreements", operation_id="MakeContactAgreement")
    async def make_agreement(
        self, db: Db, actor: CurrentActor, node: Node, data: JSONBody[AgreementCreate]
    ) -> Agreement:
        if actor.member_kind not in ("lender", "debt_buyer"):
            raise Forbidden("only a lender or debt buyer makes an agreement with its debtor")
        keys = debtor_keys(node)
        callee = keys.hash(debtor_number(data.callee, "callee"))
        return await store.create_agreement(db, actor, data, callee, keys.current)

    @get("/agreements/{agreement_id:str}", operation_id="GetContactAgreement")
    async def get_agreement(
        self, db: Db, actor: CurrentActor, agreement_id: FromPath[str]
    ) -> Agreement:
        return await store.get_agreement(db, actor, agreement_id)

    @delete("/agreements/{agreement_id:str}", operation_id="EndContactAgreement",
            status_code=HTTP_204_NO_CONTENT)
    async def end_agreement(
        self, db: Db, actor: CurrentActor, agreement_id: FromPath[str]
    ) -> None:
        await store.delete_agreement(db, actor, agreement_id)
