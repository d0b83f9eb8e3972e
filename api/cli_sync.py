"""The federation commands of `registry`: peers (add, list, resume) and the carrier mirror."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from typing import Any

import msgspec

from registry import db
from registry.migrate import migrate
from sync import peers
from sync.client import fetch_node_info

Common = Callable[[argparse.ArgumentParser], None]
WithDatabase = Callable[[argparse.Namespace], Any]  # yields the DSN (api.cli.database)


async def add_peer(dsn: str, node_id: str, url: str, send_types: list[str]) -> peers.Peer:
    """Fetch the peer's published keys and pin them; its node id must be the one given."""
    info = await fetch_node_info(url)
    if info.node_id != node_id:
        raise SystemExit(f"{url} says it is node {info.node_id!r}, not {node_id!r}")
    conn = await db.connect(dsn)
    try:
        await migrate(conn)
        return await peers.add_peer(conn, node_id, url, info.keys, send_types)
    finally:
        await conn.close()


def _show(peer: peers.Peer) -> dict[str, Any]:
    shown: dict[str, Any] = msgspec.to_builtins(peer)
    shown["send_types"] = sorted(peer.send_types)
    shown["keys"] = [k["kid"] for k in peer.keys]
    return shown


def add_commands(
    commands: Any, common: Common, database: Callable[[argparse.Namespace], Any]
) -> None:
    peer = commands.add_parser("peer", help="peer nodes this node pulls from and serves")
    peer_commands = peer.add_subparsers(dest="peer_command", required=True)

    add = peer_commands.add_parser(
        "add", help="pin a peer's keys from URL/.well-known/registry-node")
    add.add_argument("node_id")
    add.add_argument("url")
    add.add_argument(
        "--send", action="append", metavar="TYPE",
        help="a record type the peer receives in full (repeatable); default: "
        + ", ".join(sorted(peers.DEFAULT_SEND_TYPES)))
    add.add_argument("--also-send", action="append", metavar="TYPE", default=[],
                     help="a type sent besides the default ones (collector_filing, ...)")
    common(add)

    def run_add(args: argparse.Namespace) -> int:
        send = set(args.send or peers.DEFAULT_SEND_TYPES) | set(args.also_send)
        with database(args) as dsn:
            made = asyncio.run(add_peer(dsn, args.node_id, args.url, sorted(send)))
        print(json.dumps(_show(made), default=str, ensure_ascii=False))
        return 0

    add.set_defaults(run=run_add)

    listing = peer_commands.add_parser("list", help="the peers and their pinned keys")
    common(listing)

    def run_list(args: argparse.Namespace) -> int:
        async def go(dsn: str) -> list[peers.Peer]:
            conn = await db.connect(dsn)
            try:
                return await peers.list_peers(conn)
            finally:
                await conn.close()

        with database(args) as dsn:
            found = asyncio.run(go(dsn))
        print(json.dumps([_show(p) for p in found], default=str, ensure_ascii=False))
        return 0

    listing.set_defaults(run=run_list)

    resume = peer_commands.add_parser("resume", help="pull again from a peer after a fault")
    resume.add_argument("node_id")
    common(resume)

    def run_resume(args: argparse.Namespace) -> int:
        async def go(dsn: str) -> None:
            conn = await db.connect(dsn)
            try:
                await peers.clear_fault(conn, args.node_id)
            finally:
                await conn.close()

        with database(args) as dsn:
            asyncio.run(go(dsn))
        print(json.dumps({"peer": args.node_id, "status": "resumed"}))
        return 0

    resume.set_defaults(run=run_resume)
