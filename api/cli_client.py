"""`registry call` and `registry keygen`: what an integrator needs before writing code.

`call` signs one request with the client library (the same signer as every client) and
prints the JSON answer on stdout; a problem answer goes to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.signing_keys import write_private_key
from registry_client.signing import load_private_key, public_jwk

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class Usage(Exception):
    """A mistake on the command line or in its files, said in one line."""


def _body(data: str | None) -> bytes:
    """--data: JSON text, @FILE, or @- for stdin; sent byte for byte as given (it is
    what `bh` hashes), after checking that it is JSON."""
    if data is None:
        return b""
    if data.startswith("@"):
        source = data[1:]
        try:
            raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        except OSError as exc:
            raise Usage(f"cannot read {source}: {exc.strerror}") from exc
    else:
        raw = data.encode()
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Usage(f"--data is not JSON: {exc}") from exc
    return raw


def _print_json(value: Any, stream: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2), file=stream)


def cmd_call(args: argparse.Namespace) -> int:
    # The client (httpx) is loaded for this command only: `registry serve` starts faster.
    import httpx

    from registry_client import Client, ProblemError, calls
    from registry_client.paths import normalise

    try:
        target = normalise(args.path)
        body = _body(args.data)
        key = load_private_key(Path(args.key))
    except (Usage, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read the key {args.key}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        with Client(args.url, principal_id=args.principal, key=key, kid=args.kid,
                    audience=args.audience, timeout=args.timeout) as client:
            answer = client.send(calls.raw(args.method.upper(), target, body))
    except ProblemError as exc:
        problem = exc.problem
        _print_json({"type": problem.type, "title": problem.title, "status": problem.status,
                     "detail": problem.detail, "code": problem.code,
                     **({"errors": [{"field": e.field, "message": e.message}
                                    for e in problem.errors]} if problem.errors else {})},
                    sys.stderr)
        return 1
    except (httpx.HTTPError, ValueError) as exc:
        print(f"error: {args.url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if answer is not None:
        _print_json(answer, sys.stdout)
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    key = Ed25519PrivateKey.generate()
    try:
        write_private_key(out, key)
    except FileExistsError:
        print(f"error: refusing to overwrite {out}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"private key written to {out} (keep it; give the association the JWK below)",
          file=sys.stderr)
    print(json.dumps(public_jwk(key, args.kid)))
    return 0


def add_commands(commands: Any) -> None:
    call = commands.add_parser(
        "call", help="send one signed request and print the JSON answer",
        description="Sign one request (API.md §2) and print the answer: JSON on stdout, "
        "a problem answer on stderr with exit status 1.")
    call.add_argument("method", type=str.upper, choices=METHODS, metavar="METHOD")
    call.add_argument("path", metavar="PATH",
                      help="path and query, e.g. '/v1/trace/+8613800138000?at=...'")
    call.add_argument("--url", required=True, help="the node's base URL")
    call.add_argument("--as", dest="principal", required=True, metavar="PRINCIPAL_ID",
                      help="your member or operator id (the token's iss)")
    call.add_argument("--key", required=True, metavar="PEM", help="your private key")
    call.add_argument("--kid", help="the key's id as registered (default: its thumbprint)")
    call.add_argument("--data", metavar="JSON|@FILE", help="the request body (@- for stdin)")
    call.add_argument("--audience", help="the node id (default: read from the node)")
    call.add_argument("--timeout", type=float, default=30)
    call.set_defaults(run=cmd_call)

    keygen = commands.add_parser(
        "keygen", help="write a new Ed25519 key and print its public JWK")
    keygen.add_argument("--out", required=True, metavar="PEM",
                        help="where to write the private key (PKCS#8 PEM, mode 0600)")
    keygen.add_argument("--kid", help="the key id (default: the RFC 7638 thumbprint)")
    keygen.set_defaults(run=cmd_keygen)
