"""Trace lookups (API.md §6): one value by GET, up to 1000 by POST, answered from the
worker's in-memory index without a database round trip."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.enums import MediaType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from api import metrics
from api.deps import Node
from api.encoded import EncodedJSON
from api.guards import READ_ONLY
from api.ledger_state import ask_allowance
from api.routes.tlog import tiles
from api.state import node_state
from api.trace_state import trace_state
from registry.errors import Invalid
from registry.ledger.allowance import summary
from registry.resources.model import EARLIEST, LATEST, MAX_BATCH
from registry.trace.model import (
    TraceRequest,
    TraceResult,
    TraceResults,
)
from sync import receipt_records


class ReceiptRequest(msgspec.Struct, forbid_unknown_fields=True):
    value: str
    at: datetime | None = None

_encode = msgspec.json.Encoder().encode


def epoch_of(moment: datetime | None, field: str = "at") -> int:
    if moment is None:
        return int(time.time())
    if moment.tzinfo is None:
        raise Invalid.field(field, "a time needs its UTC offset")
    if not EARLIEST <= moment <= LATEST:
        raise Invalid.field(field, "a time between 1970 and 9998")
    return int(moment.timestamp())


def parse_at(text: str | None) -> int:
    """`at` from a query string; a `+` sent unencoded arrives as a space and is restored."""
    if text is None:
        return int(time.time())
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError as exc:
        raise Invalid.field("at", "an RFC 3339 time such as 2026-11-28T09:30:00+08:00") from exc
    return epoch_of(moment)


class TraceController(Controller):
    path = "/v1/trace"
    tags = ["trace"]

    @get("/{value:str}", operation_id="Trace",
         responses={200: ResponseSpec(TraceResult,
                                      description="Request fulfilled, document follows")})
    async def trace_one(
        self, request: Request[Any, Any, Any], value: FromPath[str],
        at: FromQuery[str | None] = None, callee: FromQuery[str | None] = None,
    ) -> EncodedJSON:
        # Carriers' per-call path: the node is read from the scope rather than injected,
        # and the answer, encoded by the index's answers, goes out as it is.
        node = node_state(request.scope)
        trace = trace_state(node)
        moment = parse_at(at)
        metrics.traced("single")
        await trace.feed.ensure_current()
        answer = trace.answers.trace_one_json(value, moment)
        if callee is not None:
            # API.md §12: the contact standing of the answer's principals with that debtor.
            allowed = await ask_allowance(node, value, callee, moment)
            answer = answer[:-1] + b',"contact":' + _encode(summary(allowed)) + b"}"
        return EncodedJSON(answer)

    @post("/receipt", operation_id="TraceReceipt", status_code=HTTP_200_OK,
          opt={READ_ONLY: True})
    async def receipt(self, node: Node, data: JSONBody[ReceiptRequest]) -> dict[str, Any]:
        """The §6 answer with a receipt: the node's JWS over it and the proofs of the records
        it rests on (API.md §15, docs/tlog.md)."""
        trace = trace_state(node)
        moment = epoch_of(data.at)
        await trace.feed.ensure_current()
        answer = trace.answers.trace([data.value], moment)[0]
        proven: receipt_records.ProvenCache = node.extras.setdefault(
            "receipt_proofs", receipt_records.ProvenCache())
        token = await receipt_records.build(
            node.pool, answer, moment, node_id=node.node_id, key=node.node_key,
            node_jwk=node.node_jwk, cache=tiles(node), proven=proven,
            positions=trace.index.seqs)
        return {**msgspec.to_builtins(answer), "receipt": token}

    @post("/", operation_id="TraceBatch", status_code=HTTP_200_OK, opt={READ_ONLY: True})
    async def trace_many(
        self, node: Node, data: JSONBody[TraceRequest]
    ) -> Response[TraceResults]:
        if len(data.values) > MAX_BATCH:
            raise Invalid.field("values", f"at most {MAX_BATCH} values")
        trace = trace_state(node)
        moment = epoch_of(data.at)
        metrics.traced("batch", len(data.values))
        await trace.feed.ensure_current()
        # Encoded by the index's answers themselves: a batch is carriers' bulk path.
        return Response(trace.answers.trace_json(data.values, moment),  # type: ignore[arg-type]
                        media_type=MediaType.JSON)
