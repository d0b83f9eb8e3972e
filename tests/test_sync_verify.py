"""Every refusal of sync/verify.py and sync/checkpoint.py, over tampered copies of one page.

The page is a real chain (registry.changelog.chain) signed with a real Ed25519 node key;
each case alters it the way a hostile or broken peer would and names the refusal it must
meet. `./test` holds both modules at 100 % of branches, so a new refusal needs a row here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.canonical import canonical, sha256_hex
from registry.changelog import GENESIS, Change, chain, entry_hash
from registry.signing_keys import public_jwk_of
from sync import checkpoint
from sync.errors import SyncFault
from sync.verify import verify_page
from sync.wire import Feed, WireChange

NODE, OTHER = "node-fin", "node-tel"
NODE_KEY = Ed25519PrivateKey.generate()
NODE_JWK = public_jwk_of(NODE_KEY)
OTHER_KEY = Ed25519PrivateKey.generate()
CHANGES = [
    Change("member", "m1", "upsert", {"name": "甲公司", "status": "active"}),
    Change("entrustment", "e1", "upsert", {"lender": "m1", "agency": "m2"}),
    Change("member", "m1", "delete", None),
    Change("resource", "r1", "upsert", {"number": "+8613800000000"}),  # sent redacted
]


def _wire(entry: Any, redacted: bool = False) -> WireChange:
    data = b"null" if redacted or entry.data is None else canonical(entry.data)
    return WireChange(entry.seq, entry.origin, entry.type, entry.id, entry.op, entry.data_hash,
                      entry.prev, entry.hash, msgspec.Raw(data), redacted)


def _signed(changes: list[WireChange], *, seq: int | None = None, hash: str | None = None,
            key: Ed25519PrivateKey = NODE_KEY, node: str = NODE, origin: str = NODE,
            kid: str | None = None) -> Feed:
    last_seq, last_hash = (changes[-1].seq, changes[-1].hash) if changes else (0, GENESIS)
    cp = checkpoint.sign(key, NODE_JWK["kid"] if kid is None else kid, node=node,
                         origin=origin, seq=last_seq if seq is None else seq,
                         hash=last_hash if hash is None else hash)
    return Feed(changes, cp, head=cp.seq)


def _page() -> Feed:
    entries = chain(NODE, 0, GENESIS, CHANGES)
    return _signed([_wire(e, redacted=e.type == "resource") for e in entries])


def _verify(feed: Feed, *, after_seq: int = 0, after_hash: str = GENESIS,
            held: dict[int, str] | None = None, keys: list[dict[str, Any]] | None = None,
            ) -> list[Any]:
    return verify_page(feed, node=NODE, origin=NODE, keys=[NODE_JWK] if keys is None else keys,
                       after_seq=after_seq, after_hash=after_hash, held=held or {})


def _rechained(changes: list[WireChange], at: int, **fields: Any) -> list[WireChange]:
    """Change `at` altered as given, its hash and every later link recomputed to fit, as a
    peer rewriting its own history would: only the signed checkpoint can tell."""
    out = list(changes)
    out[at] = msgspec.structs.replace(out[at], **fields)
    prev = out[at].prev
    for i in range(at, len(out)):
        c = out[i] if i == at else msgspec.structs.replace(out[i], prev=prev)
        out[i] = msgspec.structs.replace(c, hash=entry_hash(
            prev=c.prev, seq=c.seq, origin=c.origin, type=c.type, id=c.id, op=c.op,
            data_hash=c.data_hash))
        prev = out[i].hash
    return out


def _carrying(at: int, data: bytes) -> Callable[[Feed], Feed]:
    """Change `at` carries `data`, hashed as sent, the chain recomputed and re-signed."""
    def tamper(feed: Feed) -> Feed:
        return _signed(_rechained(feed.changes, at, data=msgspec.Raw(data),
                                  data_hash=sha256_hex(data)))
    return tamper


def _field(at: int, **fields: Any) -> Callable[[Feed], Feed]:
    def tamper(feed: Feed) -> Feed:
        changes = list(feed.changes)
        changes[at] = msgspec.structs.replace(changes[at], **fields)
        return msgspec.structs.replace(feed, changes=changes)
    return tamper


def _rechained_field(at: int, **fields: Any) -> Callable[[Feed], Feed]:
    return lambda feed: _signed(_rechained(feed.changes, at, **fields))


def _checkpoint(**fields: Any) -> Callable[[Feed], Feed]:
    return lambda feed: msgspec.structs.replace(
        feed, checkpoint=msgspec.structs.replace(feed.checkpoint, **fields))


def _resigned(**how: Any) -> Callable[[Feed], Feed]:
    return lambda feed: _signed(feed.changes, **how)


def _rewritten_log(feed: Feed) -> Feed:
    """The page was rewritten after the node signed where its chain stands."""
    other = '{"name":"乙"}'.encode()
    forged = _rechained(feed.changes, 0, data=msgspec.Raw(other), data_hash=sha256_hex(other))
    return msgspec.structs.replace(feed, changes=forged)


def _broken_prev(feed: Feed) -> Feed:
    changes = list(feed.changes)
    c = msgspec.structs.replace(changes[1], prev="f" * 64)
    changes[1] = msgspec.structs.replace(c, hash=entry_hash(
        prev=c.prev, seq=c.seq, origin=c.origin, type=c.type, id=c.id, op=c.op,
        data_hash=c.data_hash))
    return _signed(changes)


def _gap(feed: Feed) -> Feed:
    return _signed([feed.changes[0], *feed.changes[2:]])


def _deeply_nested(feed: Feed) -> Feed:
    return _field(0, data=msgspec.Raw(b"[" * 5000 + b"]" * 5000))(feed)


def _sig(text: str) -> Callable[[Feed], Feed]:
    return _checkpoint(sig=text)


def _flipped_sig(feed: Feed) -> Feed:
    sig = feed.checkpoint.sig
    return _sig(("A" if sig[0] != "A" else "B") + sig[1:])(feed)


def _behind(feed: Feed) -> Feed:
    return _signed(feed.changes, seq=2, hash=feed.changes[1].hash)


REFUSALS: list[tuple[str, Callable[[Feed], Feed], str]] = [
    # The changes.
    ("wrong origin", _field(0, origin=OTHER), "names origin 'node-tel'"),
    ("wrong origin, hash fitted", _rechained_field(0, origin=OTHER), "names origin 'node-tel'"),
    ("gap", _gap, "expected seq 2, got 3"),
    ("unknown op", _rechained_field(1, op="replace"), "malformed change"),
    ("no type", _rechained_field(1, type=""), "malformed change"),
    ("no id", _rechained_field(1, id=""), "malformed change"),
    ("redacted, data_hash not hex", _rechained_field(3, data_hash="Z" * 64),
     "64 lower-case hex"),
    ("redacted with data", _field(3, data=msgspec.Raw(b'{"number":"x"}')),
     "redacted change carries data"),
    ("delete with data", _carrying(2, b'{"gone":true}'), "a delete carries data"),
    ("non-JSON data", _field(0, data=msgspec.Raw(b"{not json")), "data is not JSON"),
    ("data nested past any depth", _deeply_nested, "data is not JSON"),
    ("data altered", _field(0, data=msgspec.Raw('{"name":"乙公司","status":"active"}'.encode())),
     "does not hash to data_hash"),
    ("upsert of a non-object", _carrying(0, b"[1,2]"), "an upsert's data is not an object"),
    ("broken prev", _broken_prev, "prev does not link"),
    ("hash altered", _field(1, hash="e" * 64), "hash does not match the change"),
    # The checkpoint.
    ("rewritten log", _rewritten_log, "the log was rewritten"),
    ("checkpoint off the chain", lambda feed: _signed(feed.changes[:-1], seq=4,
                                                     hash=feed.changes[3].hash),
     "does not cover the page ending at 3"),
    ("checkpoint behind the chain", _behind, "behind the chain"),
    ("checkpoint by another node", _resigned(key=OTHER_KEY, node=OTHER), "signed as 'node-tel'"),
    ("checkpoint for another origin", _resigned(origin=OTHER), "is for origin 'node-tel'"),
    ("bad signature", _flipped_sig, "does not verify"),
    ("signed by another key", _resigned(key=OTHER_KEY), "does not verify"),
    ("signature under another kid", _resigned(kid="another-kid"), "does not verify"),
    ("signature not base64url", _sig("A"), "not base64url"),
    ("signature not ASCII", _sig("签名"), "not base64url"),
    ("checkpoint fields altered", _checkpoint(at="2001-01-01T00:00:00+00:00"),
     "does not verify"),
]


@pytest.mark.parametrize(("tamper", "reason"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_a_tampered_page_is_refused_with_its_reason(
    tamper: Callable[[Feed], Feed], reason: str
) -> None:
    with pytest.raises(SyncFault, match=reason):
        _verify(tamper(_page()))


def test_the_untampered_page_verifies_every_change() -> None:
    proven = _verify(_page())
    assert [(c.seq, c.type, c.op, c.redacted) for c in proven] == [
        (1, "member", "upsert", False), (2, "entrustment", "upsert", False),
        (3, "member", "delete", False), (4, "resource", "upsert", True)]
    assert proven[0].data == canonical(CHANGES[0].data)
    assert proven[2].data is None  # a tombstone
    assert proven[3].data is None  # redacted: its data_hash is taken as sent


def test_data_spelled_another_way_is_kept_in_its_canonical_form() -> None:
    page = _page()
    spaced = b'{ "status" : "active", "name" : "\\u7532\\u516c\\u53f8" }'
    proven = _verify(_field(0, data=msgspec.Raw(spaced))(page))
    assert proven[0].data == canonical(CHANGES[0].data)


def test_changes_sent_again_are_skipped_only_when_they_are_the_ones_held() -> None:
    page = _page()
    c1, c2 = page.changes[0], page.changes[1]
    # Seqs 1-2 held already; the page repeats them, and repeats seq 3 within itself.
    again = msgspec.structs.replace(page, changes=[c1, c2, *page.changes[2:], page.changes[2]])
    proven = _verify(again, after_seq=2, after_hash=c2.hash, held={1: c1.hash, 2: c2.hash})
    assert [c.seq for c in proven] == [3, 4]
    # Not held here (older than what is kept): taken as sent, as nothing contradicts it.
    assert [c.seq for c in _verify(page, after_seq=2, after_hash=c2.hash)] == [3, 4]
    with pytest.raises(SyncFault, match="seq 1: differs from the change already held"):
        _verify(page, after_seq=2, after_hash=c2.hash, held={1: "d" * 64})
    inside = msgspec.structs.replace(
        page, changes=[*page.changes, msgspec.structs.replace(page.changes[3], hash="d" * 64)])
    with pytest.raises(SyncFault, match="seq 4: differs"):
        _verify(inside)


def test_an_empty_page_verifies_against_a_checkpoint_at_or_past_where_the_pull_stands() -> None:
    page = _page()
    last = page.changes[-1]
    assert _verify(_signed([], seq=4, hash=last.hash), after_seq=4, after_hash=last.hash) == []
    # The node has moved on past a page that came back empty (it was cut): nothing to do.
    assert _verify(_signed([], seq=9, hash="a" * 64), after_seq=4, after_hash=last.hash) == []
    with pytest.raises(SyncFault, match="behind the chain"):
        _verify(_signed([], seq=3, hash=page.changes[2].hash), after_seq=4,
                after_hash=last.hash)


def test_the_checkpoint_is_tried_under_each_pinned_key_that_can_verify_it() -> None:
    page = _page()
    ec = {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}
    bad_x = {**NODE_JWK, "x": "not*base64"}
    short_x = {**NODE_JWK, "x": "AAAA"}
    old = public_jwk_of(OTHER_KEY) | {"kid": NODE_JWK["kid"]}
    # Keys that cannot verify an Ed25519 signature are passed over, not fatal.
    keys = [ec | {"kid": NODE_JWK["kid"]}, bad_x, short_x, old, NODE_JWK]
    assert len(_verify(page, keys=keys)) == 4
    with pytest.raises(SyncFault, match="does not verify"):
        _verify(page, keys=keys[:-1])
    # A checkpoint without a kid is tried under every pinned key.
    unnamed = _signed(page.changes, kid="")
    assert len(_verify(unnamed, keys=[public_jwk_of(OTHER_KEY), NODE_JWK])) == 4
