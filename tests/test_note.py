"""Signed notes, checkpoints and cosignatures against the C2SP examples and tampering."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry_client import note
from registry_client.note import NoteError

# From C2SP signed-note, "Example".
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
EXAMPLE_NOTE = (
    "This is an example message.\n\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mF"
    "XmRKuwHjG1Yu72IneyaQM=\n")


def test_the_c2sp_example_note_verifies() -> None:
    verifier = note.parse_vkey(EXAMPLE_VKEY)
    text, signatures = note.parse(EXAMPLE_NOTE)
    assert text == "This is an example message.\n"
    note.verify_signed(text, signatures, verifier)
    assert note.vkey(verifier.name, note.ED25519, verifier.public) == EXAMPLE_VKEY
    with pytest.raises(NoteError, match="does not verify"):
        note.verify_signed("This is an example message!\n", signatures, verifier)


@pytest.mark.parametrize("bad", [
    "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # id
    "example.com/foo+530d903a",
    "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    "example.com/foo+530d903a+!!!",
    "example.com/foo+530d903a+A2kyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # type 3
])
def test_bad_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        note.parse_vkey(bad)


def test_a_checkpoint_signed_and_cosigned_round_trips() -> None:
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    head = note.TreeHead("node-a", 20852163, bytes(range(32)))
    text = head.text()
    assert text == f"node-a\n20852163\n{base64.b64encode(bytes(range(32))).decode()}\n"
    signed = note.render(text, [note.sign(text, "node-a", log_key),
                                note.cosign(text, "node-b", witness_key, 1679315147)])
    log = note.Verifier("node-a", note.ED25519, log_key.public_key())
    got, signatures = note.open_checkpoint(signed, log)
    assert got == head
    witness = note.Verifier("node-b", note.COSIGNATURE, witness_key.public_key())
    assert note.verify_cosignature(text, signatures, witness) == 1679315147
    # A cosignature is not a log signature, and another key is no witness.
    with pytest.raises(NoteError, match="no signature by node-b"):
        note.verify_signed(text, signatures, note.Verifier(
            "node-b", note.ED25519, witness_key.public_key()))
    stranger = note.Verifier("node-b", note.COSIGNATURE,
                             Ed25519PrivateKey.generate().public_key())
    with pytest.raises(NoteError, match="no cosignature"):
        note.verify_cosignature(text, signatures, stranger)
    # Another log's key name is not this log.
    other = note.Verifier("node-c", note.ED25519, log_key.public_key())
    with pytest.raises(NoteError):
        note.open_checkpoint(signed, other)


def test_a_cosignature_over_another_time_or_text_fails() -> None:
    key = Ed25519PrivateKey.generate()
    text = note.TreeHead("node-a", 3, bytes(32)).text()
    sig = note.cosign(text, "w", key, 100)
    witness = note.Verifier("w", note.COSIGNATURE, key.public_key())
    moved = note.Signature("w", sig.key_id, (101).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(NoteError, match="does not verify"):
        note.verify_cosignature(text, [moved], witness)
    cut = note.Signature("w", sig.key_id, sig.signature[:-1])
    with pytest.raises(NoteError, match="wrong length"):
        note.verify_cosignature(text, [cut], witness)


@pytest.mark.parametrize("bad", [
    "a\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",  # no signatures
    "a\n1\n\n— a AAAA\n",  # signature too short
    "a\n1\n\n— a !!!!!!!!\n",
    "a\n1\n\n—  a AAAAAAAA\n",
    "a\n1\n\nx a AAAAAAAA\n",
    "a\x01\n1\n\n— a AAAAAAAA\n",
    "a\n1\n\n— a+b AAAAAAAA\n",
    "a\n1\n\n— a AAAAAAAA",
    "x" * 20_000 + "\n\n— a AAAAAAAA\n",
    "a\n1\n\n" + "— a AAAAAAAA\n" * 65,
])
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        note.parse(bad)


@pytest.mark.parametrize("text", [
    "a\n1\n",
    "a\n01\n" + base64.b64encode(bytes(32)).decode() + "\n",
    "a\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
    "a\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",
    "a\n1\n%%%%\n",
    "a\n\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",
])
def test_malformed_tree_heads_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        note.tree_head(text)


def test_key_names_with_spaces_or_plus_cannot_sign() -> None:
    key = Ed25519PrivateKey.generate()
    for name in ("", "a b", "a+b"):
        with pytest.raises(NoteError):
            note.sign("x\n", name, key)
        with pytest.raises(NoteError):
            note.cosign("x\n", name, key, 1)


def test_a_checkpoint_of_another_log_signed_by_this_key_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    text = note.TreeHead("node-other", 1, bytes(32)).text()
    signed = note.render(text, [note.sign(text, "node-a", key)])
    with pytest.raises(NoteError, match="expected 'node-a'"):
        note.open_checkpoint(signed, note.Verifier("node-a", note.ED25519, key.public_key()))


@pytest.mark.parametrize("jwk", [
    {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
    {"kty": "OKP", "crv": "X25519", "x": "AA"},
    {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},  # 3 bytes, not 32
    {"kty": "OKP", "crv": "Ed25519", "x": "!!not base64!!"},
    {"kty": "OKP", "crv": "Ed25519"},
])
def test_a_jwk_that_is_no_ed25519_key_gives_no_verifier_key(jwk: dict[str, str]) -> None:
    assert note.jwk_public(jwk) is None


def test_an_ed25519_jwk_gives_its_key() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes_raw()
    jwk = {"kty": "OKP", "crv": "Ed25519",
           "x": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    found = note.jwk_public(jwk)
    assert found is not None
    assert found.public_bytes_raw() == raw
