"""One normal form per indicator type, so that the same phone, domain or account matches.

Phones become E.164 as in the whitelist; domains lower-case A-labels; URLs keep their path
but lose case in scheme and host; a text fingerprint is the SHA-256 of the normalised text
(or a given SHA-256, lower-cased), so scripts can be matched without being stored.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

from registry.blackmarket.model import Indicator
from registry.errors import FieldError, Invalid
from registry.phone import NotANumber, e164

MAX_VALUE = 2048
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_WECHAT = re.compile(r"^[a-z][a-z0-9_-]{5,19}$")
_QQ = re.compile(r"^[1-9][0-9]{4,11}$")


class IndicatorProblem(ValueError):
    """Why a value is not an indicator of its type (never repeats the value)."""


def normalize_phone(text: str) -> str:
    """E.164 as in the whitelist (national numbers read as Chinese)."""
    try:
        return e164(text, strict=False)
    except NotANumber as exc:
        raise IndicatorProblem("not a phone number") from exc


def _domain(text: str) -> str:
    host = text.strip().rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise IndicatorProblem("not a domain name") from exc
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise IndicatorProblem("not a domain name")
    return host


def _url(text: str) -> str:
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as exc:
        raise IndicatorProblem("not a URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise IndicatorProblem("an http or https URL with a host")
    host = _domain(parts.hostname)
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _fingerprint(text: str) -> str:
    candidate = text.strip().lower()
    if _SHA256.match(candidate):
        return candidate
    folded = " ".join(unicodedata.normalize("NFKC", text).split()).casefold()
    if not folded:
        raise IndicatorProblem("empty text")
    return hashlib.sha256(folded.encode()).hexdigest()


def _account(text: str) -> str:
    value = re.sub(r"[\s-]", "", text).casefold()
    if not value:
        raise IndicatorProblem("empty account")
    return value


def _app(text: str) -> str:
    value = " ".join(text.split()).casefold()
    if not value:
        raise IndicatorProblem("empty app name or package")
    return value


def _wechat(text: str) -> str:
    value = text.strip().lower()
    if not _WECHAT.match(value):
        raise IndicatorProblem("6 to 20 letters, digits, _ or -, starting with a letter")
    return value


def _qq(text: str) -> str:
    value = text.strip()
    if not _QQ.match(value):
        raise IndicatorProblem("5 to 12 digits")
    return value


_NORMALISERS = {
    "phone": normalize_phone, "wechat": _wechat, "qq": _qq, "domain": _domain, "url": _url,
    "app": _app, "payment_account": _account, "text_fingerprint": _fingerprint,
}


def normalise(indicator: Indicator) -> Indicator:
    if len(indicator.value) > MAX_VALUE:
        raise IndicatorProblem(f"at most {MAX_VALUE} characters")
    return Indicator(indicator.type, _NORMALISERS[indicator.type](indicator.value))


def normalise_all(indicators: list[Indicator], field: str = "indicators") -> list[Indicator]:
    """Each indicator normalised, duplicates dropped; Invalid names every bad index."""
    problems: list[FieldError] = []
    found: dict[Indicator, None] = {}
    for i, indicator in enumerate(indicators):
        try:
            found[normalise(indicator)] = None
        except IndicatorProblem as exc:
            problems.append(FieldError(f"{field}[{i}].value", str(exc)))
    if problems:
        raise Invalid(problems)
    return list(found)
