"""What counts as a secret, in one place: the config view that hides secrets, the secret values
a run must never show, and scrubbing them out of any text."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus, urlsplit

from pydantic import SecretStr

if TYPE_CHECKING:
    from hidebound_dagster.core.config import HideboundConfig

MASK = "***"  # what a scrubbed secret becomes in free text
#: Shorter values are not scrubbed from free text: masking every "a" or "on" would garble every
#: message while protecting nothing a guess would not find.
MIN_SECRET_LENGTH = 4
#: Keys whose values are secrets whatever redact_regex says, and the webhook parts (headers,
#: bodies, query parameters) that carry tokens.
SECRET_NAMES = re.compile(
    r"(?i)(pass(word)?|secret|token|api[_-]?key|authorization|credential|cookie)"
)
WEBHOOK_SECRETS = re.compile(r"^webhooks/\d+/(headers|json|data|params)/")


def _walk(value: Any, leaf: Callable[[str, Any, bool], Any], path: str = "") -> Any:
    """Dumped config data with every leaf replaced by leaf(path, plain value, was a SecretStr),
    e.g. leaf("exporters/0/secret_key", "...", True)."""
    if isinstance(value, dict):
        return {k: _walk(v, leaf, f"{path}/{k}".lstrip("/")) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(item, leaf, f"{path}/{index}") for index, item in enumerate(value)]
    if isinstance(value, SecretStr):
        return leaf(path, value.get_secret_value(), True)
    return leaf(path, value, False)


def _is_secret(path: str, was_secret: bool) -> bool:
    """A SecretStr, a key named like a secret, or a webhook header, body or parameter."""
    return was_secret or bool(
        SECRET_NAMES.search(path.rpartition("/")[2]) or WEBHOOK_SECRETS.match(path)
    )


def redacted(config: HideboundConfig) -> dict[str, Any]:
    """The config as plain data for display: every secret (and every key matching
    redact_regex) replaced by REDACTED or a stable sha256 hash, and passwords and query values
    inside URLs replaced; None stays None."""
    pattern = re.compile(config.redact_regex)

    def shown(path: str, plain: Any, was_secret: bool) -> Any:
        if plain is None:
            return None
        if _is_secret(path, was_secret) or pattern.search(path):
            if not config.redact_hash:
                return "REDACTED"
            return "hash-" + hashlib.sha256(str(plain).encode()).hexdigest()[:16]
        if isinstance(plain, Path):
            return str(plain)
        return url_without_secrets(plain) if isinstance(plain, str) else plain

    return _walk(config.model_dump(by_alias=True), shown)


def url_without_secrets(text: str) -> str:
    """A URL with its password and its query values replaced by REDACTED; other text as is."""
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc or not (parts.password or parts.query):
        return text
    netloc = parts.netloc
    if parts.password:
        netloc = f"{parts.username}:REDACTED@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{pair.partition('=')[0]}=REDACTED" for pair in parts.query.split("&") if pair
    )
    return parts._replace(netloc=netloc, query=query).geturl()


def url_secrets(text: str) -> set[str]:
    """The password and query values of a URL, as written and decoded."""
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc:
        return set()
    raw = [pair.partition("=")[2] for pair in parts.query.split("&")]
    if parts.password:
        raw.append(parts.netloc.rpartition("@")[0].partition(":")[2])
    return {form for value in raw for form in (value, unquote(value), unquote_plus(value))}


def secret_values(config: HideboundConfig, extra: Iterable[str | None] = ()) -> frozenset[str]:
    """Every secret value the config holds (and `extra` ones, such as exporter keys given by
    environment variables): what must never appear in a log line, message or file we write."""
    found: set[str] = {value for value in extra if value}

    def collect(path: str, plain: Any, was_secret: bool) -> None:
        if plain is None or isinstance(plain, bool):
            return
        text = str(plain)
        if _is_secret(path, was_secret):
            found.add(text)
        found.update(url_secrets(text))

    _walk(config.model_dump(by_alias=True), collect)
    return frozenset(value for value in found if len(value) >= MIN_SECRET_LENGTH)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by MASK, longest first (so a secret containing another
    is masked whole)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text
