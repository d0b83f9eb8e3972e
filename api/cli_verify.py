"""`registry verify`: check the node's chains and stored checkpoints from its database
(sync/self_check.py); prints the report as JSON, each break also on stderr; exit 1 on any."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

import msgspec

from registry import db
from registry.changelog import node_id
from sync.self_check import Report, verify_node


async def _verify(dsn: str) -> Report:
    conn = await db.connect(dsn)
    try:
        return await verify_node(conn, await node_id(conn))
    finally:
        await conn.close()


def add_command(
    commands: Any, common: Callable[[argparse.ArgumentParser], None],
    database: Callable[[argparse.Namespace], Any],
) -> None:
    verify = commands.add_parser(
        "verify", help="check every chain and stored checkpoint in the database; exit 1 on a break")
    common(verify)

    def run(args: argparse.Namespace) -> int:
        with database(args) as dsn:
            report = asyncio.run(_verify(dsn))
        for found in report.breaks:
            at = "" if found.seq is None else f" at seq {found.seq}"
            print(f"BREAK in {found.origin}{at}: {found.reason}", file=sys.stderr)
        print(json.dumps(msgspec.to_builtins(report), ensure_ascii=False))
        return 0 if report.ok else 1

    verify.set_defaults(run=run)
