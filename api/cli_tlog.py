"""`registry verify-receipt`: check a trace receipt offline against the node's public key."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt

from registry_client import receipts


def _read_token(source: str) -> str:
    text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
    text = text.strip()
    if text.startswith("{"):
        token = json.loads(text).get("receipt")
        if not isinstance(token, str):
            raise ValueError("the JSON has no \"receipt\"")
        return token
    return text


def _node_keys(given: str, kid: str | None) -> dict[str, Any]:
    """A JWK given inline, in a file, or published by the node at URL."""
    if given.startswith(("http://", "https://")):
        published = httpx.get(given.rstrip("/") + "/.well-known/registry-node", timeout=10)
        published.raise_for_status()
        keys: list[dict[str, Any]] = published.json()["keys"]
        chosen = [k for k in keys if kid is None or k.get("kid") == kid]
        if not chosen:
            raise ValueError(f"the node publishes no key {kid}")
        return chosen[0]
    text = given if given.lstrip().startswith("{") else Path(given).read_text("utf-8")
    jwk: dict[str, Any] = json.loads(text)
    return jwk


def cmd_verify_receipt(args: argparse.Namespace) -> int:
    try:
        token = _read_token(args.file)
        header = jwt.get_unverified_header(token)
        node_key = _node_keys(args.node_key, header.get("kid"))
        peers = {}
        for pinned in args.peer_key or []:
            node, _, jwk = pinned.partition("=")
            peers[node] = _node_keys(jwk, None)
        verified = receipts.verify(token, node_key, peers)
    except (OSError, ValueError, httpx.HTTPError, jwt.PyJWTError,
            receipts.ReceiptError) as exc:
        print(f"receipt does not verify: {exc}", file=sys.stderr)
        return 1
    print(receipts.summary(verified))
    return 0


def add_commands(commands: Any) -> None:
    verify = commands.add_parser(
        "verify-receipt", help="check a trace receipt offline",
        description="Check a trace receipt (the JSON answer of POST /v1/trace/receipt, or its "
        "bare JWS) against the node's public key, and say which records it rests on.")
    verify.add_argument("file", help="the receipt file, or - for stdin")
    verify.add_argument("--node-key", required=True,
                        help="the node's public JWK (inline JSON or a file), or the node's URL")
    verify.add_argument("--peer-key", action="append", metavar="NODE=JWK",
                        help="pin a peer node's key yourself (repeatable)")
    verify.set_defaults(run=cmd_verify_receipt)
