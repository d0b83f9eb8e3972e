"""The federation commands of `registry`: peers (add, list, resume) and the carrier mirror."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from registry import db, record_types
from registry.migrate import migrate
from registry.signing_keys import public_jwk_of
from registry_client.note import jwk_public
from sync import peers
from sync.client import AnswerLimits, Key, fetch_node_info
from sync.mirror import CarrierMirror
from sync.mirror_tree import Witness

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
        "--send", action="append", metavar="TYPE", choices=sorted(record_types.NAMES),
        help="a record type the peer receives in full (repeatable); default: "
        + ", ".join(sorted(peers.DEFAULT_SEND_TYPES)))
    add.add_argument(
        "--also-send", action="append", metavar="TYPE", default=[],
        choices=sorted(record_types.NAMES),
        help="a type sent besides the default ones: "
        + ", ".join(sorted(record_types.NAMES - peers.DEFAULT_SEND_TYPES)))
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
    add_mirror_command(commands)


def _load_member_key(path: Path) -> tuple[Key, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if isinstance(key, Ed25519PrivateKey):
        return key, public_jwk_of(key)["kid"]
    if isinstance(key, EllipticCurvePrivateKey):
        return key, ""
    raise SystemExit(f"{path} holds neither an Ed25519 nor a P-256 private key")


def _lookup_line(line: str) -> tuple[str, int | None]:
    """`VALUE [AT]`: the value may hold spaces; a last word that is an RFC 3339 time is AT."""
    text = line.strip()
    value, _, last = text.rpartition(" ")
    if value and "T" in last:
        try:
            moment = datetime.fromisoformat(last)
        except ValueError:
            return text, None
        if moment.tzinfo is not None:
            return value.strip(), int(moment.timestamp())
    return text, None


async def _witness(spec: str) -> Witness:
    """NODE_ID=URL: a witness node, its key as it publishes it (pinned at this start)."""
    name, _, url = spec.partition("=")
    info = await fetch_node_info(url)
    if info.node_id != name:
        raise SystemExit(f"{url} is node {info.node_id}, not {name}")
    publics = [p for p in map(jwk_public, info.keys) if p is not None]
    if not publics:
        raise SystemExit(f"{url} publishes no Ed25519 node key")
    return Witness(name, publics[0], url)


async def run_mirror(args: argparse.Namespace) -> int:
    """Sync, then answer one trace per line of stdin (`VALUE [AT]`) as JSON on stdout."""
    key, thumbprint = _load_member_key(Path(args.key))
    kid = args.kid or thumbprint
    if not kid:
        raise SystemExit("--kid is required for a P-256 key")
    witnesses = [await _witness(spec) for spec in args.witness or []]
    mirror = CarrierMirror(args.url, member_id=args.member_id, key=key, kid=kid,
                           snapshot=Path(args.snapshot), page_limit=args.page,
                           witnesses=witnesses, witnesses_required=args.witnesses_required,
                           limits=AnswerLimits(deadline=args.page_seconds))
    loaded = mirror.load()
    applied = await mirror.sync_once()
    print(json.dumps({"node": mirror.node, "from_snapshot": loaded, "pulled": applied,
                      "seqs": {o: c.seq for o, c in mirror.cursors.items()}}), file=sys.stderr)
    if args.once:
        mirror.close()
        return 0
    following = asyncio.create_task(mirror.run(args.interval))
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            value, moment = _lookup_line(line)
            if not value:
                continue
            (answer,) = mirror.trace([value], moment)
            sys.stdout.write(msgspec.json.encode(answer).decode() + "\n")
            sys.stdout.flush()
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        mirror.close()
    return 0


def add_mirror_command(commands: Any) -> None:
    mirror = commands.add_parser(
        "mirror", help="a carrier's in-process copy of a node's trace records",
        description="Pull a node's trace records with a member key, keep them in memory and "
        "in a snapshot and its journal, and answer one trace per stdin line (VALUE [AT]) on "
        "stdout.")
    mirror.add_argument("url", help="the home node, e.g. https://registry.example.cn")
    mirror.add_argument("--key", required=True, help="the member's private key (PKCS#8 PEM)")
    mirror.add_argument("--member-id", required=True)
    mirror.add_argument("--kid", help="the key's id at the node (default: its JWK thumbprint)")
    mirror.add_argument("--snapshot", default="registry-mirror.snapshot",
                        help="snapshot file (its journal is PATH.journal) kept so a restart "
                        "resumes from its last seq")
    mirror.add_argument("--interval", type=float, default=1.0, help="seconds between pulls")
    mirror.add_argument("--page", type=int, default=5000, help="changes per request")
    mirror.add_argument("--page-seconds", type=float, default=30.0,
                        help="the most seconds one answer of the node may take")
    mirror.add_argument("--once", action="store_true", help="sync once and exit")
    mirror.add_argument("--witness", action="append", metavar="NODE_ID=URL",
                        help="a node whose cosignatures of the tree count (repeatable)")
    mirror.add_argument("--witnesses-required", type=int, default=0, metavar="K",
                        help="trust a tree checkpoint only with K witness cosignatures")
    mirror.set_defaults(run=lambda args: asyncio.run(run_mirror(args)))
