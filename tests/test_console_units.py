"""Console helpers without a database: redirect targets, languages, chart geometry, sealing."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.console.charts import LABEL_WIDTH, PLOT_WIDTH, stacked_bars
from api.console.i18n import labeller, pick_lang
from api.console.web import local_path
from registry.console.sealing import load_or_create_key, seal, unseal


@pytest.mark.parametrize(("target", "expected"), [
    ("/console/members", "/console/members"),
    ("//evil.example/x", "/console"),
    ("/\\evil.example", "/console"),
    ("https://evil.example", "/console"),
    (None, "/console"),
    ("", "/console"),
])
def test_redirects_stay_on_this_site(target: str | None, expected: str) -> None:
    assert local_path(target, "/console") == expected


def test_chinese_first_english_on_request() -> None:
    assert pick_lang(None, None) == "zh"
    assert pick_lang("en", "zh") == "en"
    assert pick_lang("fr", "en") == "en"
    assert labeller("zh")("suspended") == "暂停"
    assert labeller("en")("suspended") == "Suspended"
    assert labeller("en")("something_new") == "something_new"


def test_bars_share_one_scale() -> None:
    chart = stacked_bars([("a", [("active", 3), ("removed", 1)]), ("b", [("active", 2)]),
                          ("c", [("active", 0)])])
    first, second, empty = chart.bars
    assert first.total == 4
    assert sum(s.width for s in first.segments) == pytest.approx(PLOT_WIDTH)
    assert second.segments[0].width == pytest.approx(PLOT_WIDTH / 2)
    assert second.segments[0].x == LABEL_WIDTH
    assert empty.segments == []
    assert chart.keys == ["active", "removed"]


def test_sealed_secrets_open_only_with_their_key(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "console.key")
    assert load_or_create_key(tmp_path / "console.key") == key
    assert (tmp_path / "console.key").stat().st_mode & 0o777 == 0o600
    sealed = seal(key, "JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert unseal(key, sealed) == "JBSWY3DPEHPK3PXP"
    assert unseal(load_or_create_key(tmp_path / "other.key"), sealed) is None
    assert unseal(key, "not sealed at all") is None


def test_a_totp_code_is_good_for_one_step_of_drift_and_never_twice() -> None:
    import pyotp

    from registry.console.credentials import TOTP_STEP, _matching_step

    secret = pyotp.random_base32()
    now = 1_790_000_000.0
    step = int(now // TOTP_STEP)

    def code_of(step: int) -> str:
        return str(pyotp.TOTP(secret).at(step * TOTP_STEP))

    assert _matching_step(secret, code_of(step), now, 0) == step
    assert _matching_step(secret, code_of(step - 1), now, 0) == step - 1
    assert _matching_step(secret, code_of(step - 2), now, 0) is None
    assert _matching_step(secret, code_of(step), now, step) is None  # already used
