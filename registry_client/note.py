"""Signed notes, tree checkpoints and witness cosignatures (C2SP signed-note, tlog-checkpoint,
tlog-cosignature): the text a node signs about its Merkle tree, and that peers cosign.

A checkpoint note is three lines (origin, tree size, base64 root), a blank line, and one
signature line per signer: "— NAME base64(key id || signature)". The node signs with its
Ed25519 node key (type 0x01); a witness cosigns with type 0x04 over
"cosignature/v1\\ntime T\\n" + the note text, with T in the signature. The byte-exact
formats are in docs/tlog.md. Every failure raises NoteError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
COSIGNATURE = 0x04
DASH = "\u2014"
MAX_NOTE_BYTES = 16_384
MAX_SIGNATURES = 64


class NoteError(Exception):
    """A note is malformed, or no trusted key's signature on it verifies."""


@dataclass(frozen=True, slots=True)
class TreeHead:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{DASH} {self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted key: its name, its signature type and its public key."""

    name: str
    sig_type: int
    public: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, raw_public(self.public))


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


def vkey(name: str, sig_type: int, public: Ed25519PublicKey) -> str:
    """The verifier key string `name+hex(key id)+base64(type || public key)`."""
    raw = raw_public(public)
    return f"{name}+{key_id(name, sig_type, raw).hex()}+" + base64.b64encode(
        bytes([sig_type]) + raw).decode()


def parse_vkey(text: str) -> Verifier:
    parts = text.split("+")
    if len(parts) != 3 or not parts[0]:
        raise NoteError("a verifier key is name+keyid+key")
    name, hex_id, material = parts
    try:
        raw = base64.b64decode(material, validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw[1:])
    except (binascii.Error, ValueError) as exc:
        raise NoteError("the verifier key's key material is not an Ed25519 key") from exc
    if raw[0] not in (ED25519, COSIGNATURE):
        raise NoteError(f"verifier key type {raw[0]} is not supported")
    verifier = Verifier(name, raw[0], public)
    if verifier.key_id.hex() != hex_id:
        raise NoteError("the verifier key's id does not match its key")
    return verifier


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"{name!r} cannot name a key")


def _signer_key_id(name: str, sig_type: int, key: Ed25519PrivateKey) -> bytes:
    """The key id a signature of this type by `name` with `key` carries, for a valid name."""
    _check_name(name)
    return Verifier(name, sig_type, key.public_key()).key_id


def sign(text: str, name: str, key: Ed25519PrivateKey) -> Signature:
    """The node's own signature (type 0x01) over the note text."""
    return Signature(name, _signer_key_id(name, ED25519, key), key.sign(text.encode()))


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> Signature:
    """A witness's timestamped cosignature (type 0x04) over a checkpoint's text."""
    kid = _signer_key_id(name, COSIGNATURE, key)
    signature = key.sign(_cosigned_message(text, timestamp))
    return Signature(name, kid, struct.pack(">Q", timestamp) + signature)


def render(text: str, signatures: Iterable[Signature]) -> str:
    return text + "\n" + "".join(s.line() for s in signatures)


def parse(note: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and its signature lines (none verified yet)."""
    if len(note.encode()) > MAX_NOTE_BYTES:
        raise NoteError("the note is too large")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("the note holds control characters")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("the note has no signature block")
    text, block = note[:cut + 1], note[cut + 2:]
    signatures = []
    for line in block.splitlines():
        fields = line.split(" ")
        if len(fields) != 3 or fields[0] != DASH:
            raise NoteError("a signature line is malformed")
        _check_name(fields[1])
        try:
            raw = base64.b64decode(fields[2], validate=True)
        except binascii.Error as exc:
            raise NoteError("a signature is not base64") from exc
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        signatures.append(Signature(fields[1], raw[:4], raw[4:]))
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise NoteError("a note carries 1 to 64 signatures")
    return text, signatures


def _matching(signatures: Iterable[Signature], verifier: Verifier) -> list[Signature]:
    wanted = verifier.key_id
    return [s for s in signatures if s.name == verifier.name and s.key_id == wanted]


def verify_signed(text: str, signatures: Iterable[Signature], verifier: Verifier) -> None:
    """The note is signed (type 0x01) by `verifier`; unknown signatures are ignored."""
    found = _matching(signatures, verifier)
    if not found:
        raise NoteError(f"the note carries no signature by {verifier.name}")
    for sig in found:
        try:
            verifier.public.verify(sig.signature, text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"the signature by {verifier.name} does not verify") from exc


def verify_cosignature(text: str, signatures: Iterable[Signature], verifier: Verifier) -> int:
    """The note is cosigned (type 0x04) by `verifier`; returns the cosignature's time."""
    found = _matching(signatures, verifier)
    if not found:
        raise NoteError(f"the note carries no cosignature by {verifier.name}")
    newest = -1
    for sig in found:
        if len(sig.signature) != 8 + 64:
            raise NoteError(f"the cosignature by {verifier.name} has the wrong length")
        (timestamp,) = struct.unpack(">Q", sig.signature[:8])
        try:
            verifier.public.verify(sig.signature[8:], _cosigned_message(text, timestamp))
        except InvalidSignature as exc:
            raise NoteError(f"the cosignature by {verifier.name} does not verify") from exc
        newest = max(newest, timestamp)
    return newest


def tree_head(text: str) -> TreeHead:
    """Read a checkpoint's text: origin, size without leading zeroes, 32-byte root."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteError("a checkpoint is at least three non-empty lines")
    origin, size_text, root_text = lines[:3]
    if not size_text.isascii() or not size_text.isdigit() or (
            size_text != "0" and size_text.startswith("0")):
        raise NoteError("the tree size is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise NoteError("the root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("the root hash is not 32 bytes")
    return TreeHead(origin, int(size_text), root)


def open_checkpoint(note: str, verifier: Verifier) -> tuple[TreeHead, list[Signature]]:
    """Parse a checkpoint note and check the log's own signature; its origin is the key's name."""
    text, signatures = parse(note)
    verify_signed(text, signatures, verifier)
    head = tree_head(text)
    if head.origin != verifier.name:
        raise NoteError(f"the checkpoint is of {head.origin!r}, expected {verifier.name!r}")
    return head, signatures


def jwk_public(jwk: dict[str, Any]) -> Ed25519PublicKey | None:
    """The Ed25519 key of a JWK, or None for any other kind of key."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(
            base64.urlsafe_b64decode(str(jwk.get("x", "")) + "=="))
    except (ValueError, binascii.Error):
        return None


def node_verifier(node_id: str, public: Ed25519PublicKey) -> Verifier:
    return Verifier(node_id, ED25519, public)


def witness_verifier(node_id: str, public: Ed25519PublicKey) -> Verifier:
    return Verifier(node_id, COSIGNATURE, public)
