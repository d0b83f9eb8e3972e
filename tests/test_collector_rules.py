"""PRC id numbers, masks, the filing rules and the keyed subject hash, without a database."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import pytest

from registry.collectors import prc_id, rules, subject_hash
from registry.collectors.model import CollectorFilingCreate
from registry.errors import Conflict, Invalid
from tests.support.people import make_prc_id


def test_real_check_characters_pass_and_lower_case_x_is_accepted() -> None:
    number = make_prc_id(x=True)
    assert prc_id.normalise(number.lower()) == number
    assert prc_id.normalise(f" {number[:6]} {number[6:]} ") == number
    assert prc_id.problem(make_prc_id(x=False)) is None
    # The published example of GB 11643: 11010519491231002X.
    assert prc_id.normalise("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("11010519491231002", "must be 18 characters"),
        ("11010519491231002Y", "the last character must be a digit or X"),
        ("1101051949123100AX", "the first 17 characters must be digits"),
        ("110105194902300021", "the birth date is not a real date"),
        ("110105194912310021", "check character mismatch"),
    ],
)
def test_bad_id_numbers_are_refused_without_echoing_them(number: str, why: str) -> None:
    with pytest.raises(Invalid) as caught:
        prc_id.normalise(number)
    assert caught.value.errors[0].field == "id_number"
    assert caught.value.errors[0].message == why
    assert number not in str(caught.value)


def test_masks() -> None:
    assert prc_id.mask_id("11010519491231002X") == "1101**********002X"
    assert prc_id.mask_name("张三") == "张*"
    assert prc_id.mask_name("欧阳娜娜") == "欧***"
    assert prc_id.mask_name("王") == "*"


def _filing(**fields: object) -> CollectorFilingCreate:
    base: dict[str, object] = {
        "id_type": "prc_id", "id_number": make_prc_id(), "name": "张三",
        "violations": ["violence"], "incident_on": date(2026, 5, 1),
        "dismissed_on": date(2026, 5, 3), "summary": "威胁债务人", "evidence_sha256": [],
    }
    base.update(fields)
    return CollectorFilingCreate(**base)  # type: ignore[arg-type]


def test_filing_rules_name_every_bad_field() -> None:
    number = make_prc_id()
    with pytest.raises(Invalid) as caught:
        rules.check_new_filing(_filing(
            violations=["violence", "shouting"], incident_on=date(2026, 6, 1),
            dismissed_on=date(2026, 5, 1), evidence_sha256=["abc"],
            summary=f"催收员 {number} 威胁",
        ), date(2026, 11, 28))
    fields = {e.field for e in caught.value.errors}
    assert fields == {"violations[1]", "dismissed_on", "evidence_sha256[0]"}
    with pytest.raises(Invalid) as caught:
        rules.check_new_filing(_filing(id_number=number, summary=f"{number.lower()} 威胁"),
                               date(2026, 11, 28))
    assert [e.field for e in caught.value.errors] == ["summary"]
    with pytest.raises(Invalid) as caught:
        rules.check_new_filing(_filing(summary="张三 多次威胁"), date(2026, 11, 28))
    assert [e.field for e in caught.value.errors] == ["summary"]


def test_filing_transitions() -> None:
    rules.check_transition("submitted", "published")
    rules.check_transition("published", "revoked")
    for current, wanted in [("submitted", "revoked"), ("rejected", "published"),
                            ("expired", "revoked"), ("revoked", "published")]:
        with pytest.raises(Conflict):
            rules.check_transition(current, wanted)


def test_subject_key_is_made_once_private_and_rotates_without_losing_matches(
    tmp_path: Path,
) -> None:
    secrets_dir = tmp_path / "secrets"
    keys = subject_hash.load(secrets_dir)
    key_file = subject_hash.key_path(secrets_dir, 1)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert subject_hash.load(secrets_dir).keys == keys.keys
    number = make_prc_id()
    old = keys.digest("prc_id", number)
    assert subject_hash.rotate(secrets_dir) == 2
    rotated = subject_hash.load(secrets_dir)
    assert rotated.current == 2
    assert rotated.digest("prc_id", number) != old
    assert old in rotated.digests("prc_id", number)
    assert number not in key_file.read_text()


def test_cli_rotates_the_collector_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import main

    subject_hash.load(tmp_path / "secrets")
    assert main(["collector-key", "rotate", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == '{"hash_version": 2}'
    assert subject_hash.load(tmp_path / "secrets").current == 2


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        loaded = list(pool.map(lambda _: subject_hash.load(tmp_path / "s"), range(16)))
    assert len({k.keys[1] for k in loaded}) == 1
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["collector-hmac-v1.key"]
