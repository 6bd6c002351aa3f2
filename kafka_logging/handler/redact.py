"""Redaction of secrets before a record is serialised.

Two rules, both configurable:
- keys: any mapping key (in `extra=` values, at any depth) whose name contains one of
  `keys` (case-insensitive, `-` read as `_`) has its value replaced by `[REDACTED]`;
- patterns: regular expressions applied to the message, the error message and stack trace
  and every string value in `extra=`. A pattern with a group named `value` has only that
  group replaced; any other pattern has its whole match replaced.

The defaults cover password, passwd, secret, token, api_key and authorization, both as keys
and as `name=value` / `name: value` / `Authorization: Bearer ...` text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

DEFAULT_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
)

DEFAULT_PATTERNS: tuple[str, ...] = (
    r"(?i)(?:password|passwd|secret|token|api[_-]?key|authorization)[\w.-]*[\"']?\s*[:=]\s*"
    r"(?P<value>(?:(?:bearer|basic|digest|token)\s+)?(?:\"[^\"]*\"|'[^']*'|[^\s,;&\"'}]+))",
)


class Redactor:
    """Replaces secrets by key and by pattern; returns new containers, never mutates input."""

    def __init__(
        self, keys: Iterable[str] = DEFAULT_KEYS, patterns: Iterable[str] = DEFAULT_PATTERNS
    ) -> None:
        patterns = tuple(patterns)
        self.keys = tuple(k.lower().replace("-", "_") for k in keys if k)
        compiled: list[re.Pattern[str]] = []
        for pattern in patterns:
            try:
                compiled.append(re.compile(pattern))
            except re.error as exc:
                raise ValueError(f"redact_patterns: {pattern!r} is not a regex: {exc}") from None
        self.patterns = tuple(compiled)
        # With only the default patterns, one case-insensitive keyword scan rules most
        # strings out before any full pattern runs.
        self._defaults = patterns == DEFAULT_PATTERNS
        self._key_cache: dict[str, bool] = {}

    @property
    def defaults(self) -> bool:
        """The patterns are the default ones (text() pre-checks their keywords first)."""
        return self._defaults

    def secret_key(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        known = self._key_cache.get(key)
        if known is None:
            norm = key.lower().replace("-", "_")
            known = any(k in norm for k in self.keys)
            if len(self._key_cache) < 4096:
                self._key_cache[key] = known
        return known

    def text(self, value: str) -> str:
        if self._defaults:
            low = value.lower()
            if not (
                "pass" in low or "secret" in low or "token" in low or "key" in low or "auth" in low
            ):
                return value  # none of the default patterns' keywords occurs: nothing to do
        for pattern in self.patterns:
            if "value" in pattern.groupindex:
                value = pattern.sub(_replace_value_group, value)
            else:
                value = pattern.sub(REDACTED, value)
        return value

    def value(self, value: Any, depth: int = 0) -> Any:
        """A copy of `value` with secret keys and patterns redacted (containers rebuilt)."""
        kind = type(value)
        if kind is str:
            return self.text(value) if self.patterns else value
        if kind is int or kind is float or kind is bool or value is None or depth > 32:
            return value
        if kind is dict or isinstance(value, Mapping):
            return self._mapping(value, depth)
        if kind is list or kind is tuple:
            return [self.value(v, depth + 1) for v in value]
        if isinstance(value, str):
            return self.text(value) if self.patterns else value
        return value

    def entry(self, key: Any, item: Any) -> Any:
        """The redacted copy of `item`, found under mapping key `key`."""
        secret = self._key_cache.get(key) if type(key) is str else None
        if secret is None:
            secret = self.secret_key(key)
        if secret:
            return REDACTED
        kind = type(item)
        if kind is str:
            return self.text(item) if self.patterns else item
        if kind is int or kind is float or kind is bool or item is None:
            return item
        return self.value(item, 1)

    def _mapping(self, value: Mapping[Any, Any], depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        cache = self._key_cache
        patterns = self.patterns
        for key, item in value.items():
            secret = cache.get(key) if type(key) is str else None
            if secret is None:
                secret = self.secret_key(key)
            if secret:
                out[key] = REDACTED
                continue
            kind = type(item)
            if kind is str:
                out[key] = self.text(item) if patterns else item
            elif kind is int or kind is float or kind is bool or item is None:
                out[key] = item
            else:
                out[key] = self.value(item, depth + 1)
        return out


def _replace_value_group(match: re.Match[str]) -> str:
    start, end = match.span("value")
    text = match.group(0)
    offset = match.start()
    return text[: start - offset] + REDACTED + text[end - offset :]
