"""Trace receipts (API.md §15): the node's signed word on a trace answer, with the proof of
every record the answer rests on, that a carrier keeps and checks offline years later.

A receipt is a compact JWS (EdDSA, typ `registry-receipt+jwt`) by the node key over
`ReceiptClaims`: the answer, the moment, each origin's signed tree checkpoint (with the
key of that origin, as the signing node pinned it) and, for each record, its change-log
entry with its data and an inclusion proof in its origin's tree. docs/tlog.md has the
format; `verify` checks every link and raises ReceiptError.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry import changelog
from registry_client import merkle, note

TYP = "registry-receipt+jwt"


class ReceiptError(Exception):
    """The receipt does not prove what it says."""


class LogHead(msgspec.Struct, frozen=True):
    origin: str
    checkpoint: str  # the origin's signed-note checkpoint
    key: dict[str, Any]  # the origin's node key (JWK), as the signing node pinned it


class ProvenRecord(msgspec.Struct, frozen=True):
    origin: str
    seq: int
    type: str
    id: str
    op: str
    data: Any
    data_hash: str
    prev: str
    hash: str
    size: int
    proof: list[str]


class ReceiptClaims(msgspec.Struct, frozen=True):
    iss: str
    iat: int
    at: int
    answer: dict[str, Any]
    logs: list[LogHead]
    records: list[ProvenRecord]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sign(claims: ReceiptClaims, key: Ed25519PrivateKey, kid: str) -> str:
    """The compact JWS (RFC 7515) of the claims; made here rather than by PyJWT so that the
    payload is encoded once by msgspec, as receipts are on a carrier's path."""
    header = _b64url(msgspec.json.encode({"alg": "EdDSA", "kid": kid, "typ": TYP}))
    signing_input = f"{header}.{_b64url(msgspec.json.encode(claims))}"
    return f"{signing_input}.{_b64url(key.sign(signing_input.encode()))}"


def _b64(proof: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in proof]


def now() -> int:
    return int(time.time())


def prove(entry: changelog.Entry, size: int, proof: list[bytes]) -> ProvenRecord:
    return ProvenRecord(entry.origin, entry.seq, entry.type, entry.id, entry.op, entry.data,
                        entry.data_hash, entry.prev, entry.hash, size, _b64(proof))


class Verified(msgspec.Struct, frozen=True):
    node: str
    at: int
    answer: dict[str, Any]
    records: list[ProvenRecord]


def _canonical_b64url(segment: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError:
        return False
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") == segment


def _unverified_header(token: str) -> dict[str, Any]:
    # One spelling per receipt: base64url that decodes alike two ways is refused, so that
    # no byte of a receipt can change while it still verifies.
    segments = token.split(".")
    if len(segments) != 3 or not all(_canonical_b64url(s) for s in segments):
        raise ReceiptError("not a compact JWS in canonical base64url")
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise ReceiptError(f"not a JWS: {exc}") from exc
    return header


def verify(token: str, node_key: dict[str, Any],
           peer_keys: dict[str, dict[str, Any]] | None = None) -> Verified:
    """Check a receipt offline against the node's public key (and, optionally, keys of the
    peer nodes pinned by the checker itself, which then take the place of the receipt's)."""
    # 1. The JWS is the node's: EdDSA, our typ, signed by the key given.
    header = _unverified_header(token)
    if header.get("alg") not in ("EdDSA", "Ed25519") or header.get("typ") != TYP:
        raise ReceiptError("not a trace receipt (alg or typ)")
    public = note.jwk_public(node_key)
    if public is None:
        raise ReceiptError("the node key is not an Ed25519 JWK")
    try:
        payload = jwt.decode(token, public, algorithms=["EdDSA"],
                             options={"require": ["iss", "iat"], "verify_aud": False,
                                      "verify_exp": False, "verify_iat": False})
        claims = msgspec.convert(payload, ReceiptClaims)
    except (jwt.PyJWTError, msgspec.ValidationError) as exc:
        raise ReceiptError(f"the receipt's signature or shape is wrong: {exc}") from exc
    # 2. Every origin's checkpoint is signed by that origin's key.
    roots = {log.origin: _checked_head(log, claims.iss, public, peer_keys or {})
             for log in claims.logs}
    # 3. Every record is the entry its hashes say, inside its origin's tree.
    for record in claims.records:
        _check_record(record, roots)
    # 4. Every member the answer names is among the records it rests on.
    _check_named(claims)
    return Verified(claims.iss, claims.at, claims.answer, claims.records)


def _checked_head(log: LogHead, node: str, node_public: Ed25519PublicKey,
                  peer_keys: dict[str, dict[str, Any]]) -> note.TreeHead:
    if log.origin == node:
        public: Ed25519PublicKey | None = node_public
    else:
        public = note.jwk_public(peer_keys.get(log.origin, log.key))
    if public is None:
        raise ReceiptError(f"no Ed25519 key for the log of {log.origin}")
    try:
        head, _ = note.open_checkpoint(log.checkpoint, note.node_verifier(log.origin, public))
    except note.NoteError as exc:
        raise ReceiptError(f"the checkpoint of {log.origin}: {exc}") from exc
    return head


def _check_record(record: ProvenRecord, roots: dict[str, note.TreeHead]) -> None:
    head = roots.get(record.origin)
    if head is None or head.size != record.size:
        raise ReceiptError(f"{record.type} {record.id}: no checkpoint of its log at its size")
    if changelog.data_hash(record.data) != record.data_hash:
        raise ReceiptError(f"{record.type} {record.id}: its data does not hash to data_hash")
    link = changelog.entry_hash(prev=record.prev, seq=record.seq, origin=record.origin,
                                type=record.type, id=record.id, op=record.op,
                                data_hash=record.data_hash)
    if link != record.hash:
        raise ReceiptError(f"{record.type} {record.id}: the entry does not hash to its hash")
    try:
        proof = [base64.b64decode(h, validate=True) for h in record.proof]
        merkle.verify_inclusion(bytes.fromhex(record.hash), record.seq - 1, record.size, proof,
                                head.root)
    except (ValueError, merkle.ProofError) as exc:
        raise ReceiptError(f"{record.type} {record.id}: not in its log: {exc}") from exc


def _check_named(claims: ReceiptClaims) -> None:
    members = {r.id for r in claims.records if r.type == "member"}
    answer = claims.answer
    named = [ref["id"] for ref in (answer.get("supplier"), answer.get("user"))
             if isinstance(ref, dict)]
    named += [p["id"] for p in answer.get("principals") or [] if isinstance(p, dict)]
    missing = [m for m in named if m not in members]
    if missing:
        raise ReceiptError(f"the answer names members it shows no record of: {missing}")


def summary(verified: Verified) -> str:
    """What a person reads: the verdict, and each record it rests on."""
    answer = verified.answer
    verdict = "traceable" if answer.get("traceable") else f"not traceable ({answer.get('reason')})"
    lines = [f"{answer.get('value')} at {verified.at}: {verdict}, signed by {verified.node}"]
    lines += [f"  {r.type} {r.id} ({r.origin} #{r.seq}, proven in tree of {r.size})"
              for r in verified.records]
    return "\n".join(lines)
