"""Events and webhooks (API.md §14): the feed of what concerns the caller, and the member's
webhook with its secret, rotation and delivery status."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from api.deps import CurrentActor, Db, Node, PageLimit
from api.state import NodeState
from api.webhooks.dispatcher import EXTRA, Dispatcher
from api.webhooks.targets import TargetRefused, parse, resolve
from registry.actors import Actor
from registry.errors import Forbidden, Invalid, NotFound
from registry.events import webhooks
from registry.events.model import OPERATORS, EventPage
from registry.events.outbox import list_events
from registry.events.webhooks import Webhook, WebhookSet, WebhookStatus

# A name that takes longer than this to resolve is not one to deliver to.
RESOLVE_SECONDS = 5.0


class EventController(Controller):
    path = "/v1/events"
    tags = ["events"]

    @get("/", operation_id="ListEvents")
    async def list(
        self, db: Db, actor: CurrentActor, after: FromQuery[str | None] = None,
        limit: PageLimit = 100,
    ) -> EventPage:
        """What concerns the caller, oldest first; operators read the association's own."""
        recipient = OPERATORS if actor.is_operator else actor.id
        return await list_events(db, recipient, after=after, limit=limit)


def _own(actor: Actor, member_id: str, *, operators: bool = False) -> None:
    if actor.id == member_id or (operators and actor.is_operator):
        return
    raise Forbidden("only the member itself manages its webhook")


def _dispatcher(node: NodeState) -> Dispatcher:
    dispatcher: Dispatcher = node.extras[EXTRA]
    return dispatcher


def _overlap(node: NodeState) -> timedelta:
    return timedelta(hours=node.settings.webhook_secret_overlap_hours)


async def check_url(url: str, allow_loopback: bool) -> None:
    """Refuse (422 on `url`) a target the node would not deliver to, by name and address."""
    try:
        target = parse(url, allow_loopback=allow_loopback)
        async with asyncio.timeout(RESOLVE_SECONDS):
            await resolve(target, allow_loopback=allow_loopback)
    except TargetRefused as exc:
        raise Invalid.field("url", str(exc)) from exc
    except TimeoutError as exc:
        raise Invalid.field("url", "the host name did not resolve in time") from exc


class WebhookController(Controller):
    path = "/v1/members/{member_id:str}/webhook"
    tags = ["events"]

    @put("/", operation_id="SetWebhook", status_code=HTTP_200_OK)
    async def set(
        self, db: Db, node: Node, actor: CurrentActor, member_id: FromPath[str],
        data: JSONBody[WebhookSet],
    ) -> Webhook:
        """Set the webhook; the answer carries its new secret, shown this once."""
        _own(actor, member_id)
        await check_url(data.url, node.settings.webhook_allow_http_loopback)
        return await webhooks.put_webhook(db, member_id, data, _dispatcher(node).key,
                                          _overlap(node))

    @post("/rotate", operation_id="RotateWebhookSecret", status_code=HTTP_200_OK)
    async def rotate(
        self, db: Db, node: Node, actor: CurrentActor, member_id: FromPath[str]
    ) -> Webhook:
        """A new secret, shown this once; the previous one signs alongside for a while."""
        _own(actor, member_id)
        return await webhooks.rotate_secret(db, member_id, _dispatcher(node).key,
                                            _overlap(node))

    @get("/", operation_id="GetWebhook")
    async def status(
        self, db: Db, actor: CurrentActor, member_id: FromPath[str]
    ) -> WebhookStatus:
        """The webhook (without its secret) and how its deliveries went."""
        _own(actor, member_id, operators=True)
        found = await webhooks.webhook_status(db, member_id)
        if found.webhook is None and not (found.pending or found.delivered or found.failed):
            raise NotFound(f"member {member_id} has no webhook")
        return found

    @delete("/", operation_id="DeleteWebhook", status_code=HTTP_204_NO_CONTENT)
    async def remove(self, db: Db, actor: CurrentActor, member_id: FromPath[str]) -> None:
        _own(actor, member_id)
        await webhooks.delete_webhook(db, member_id)
