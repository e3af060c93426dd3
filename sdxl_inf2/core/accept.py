"""The Accept header (RFC 9110 §12.5.1), read the way werkzeug 3.1 reads it, without werkzeug.

The container and the gateway both negotiate with this, so they answer the same header the same way;
the gateway's Lambda zip needs no web framework for it. What werkzeug does and this does too
(tests/test_accept.py checks them against each other on generated headers):

- items are split at commas outside quoted strings; a header with an unclosed quote is empty;
- an item's `q` must be a number from 0 to 1, else the item is dropped; other parameters stay on it;
- items are ordered most specific first (`type/sub` before `type/*` before `*/*`), then by quality;
- a type matches a range when the range is `*/*`, or has the same type and `*` or the same subtype and
  the same parameters; types and parameter names compare in lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_Q_VALUE = re.compile(r"-?\d+(\.\d+)?")
_TOKEN = re.compile(r"[\w!#$%&'*+.^`|~-]+")
_PARTS = re.compile(r"/|(?:[ \t]*;[ \t]*)")


@dataclass(frozen=True)
class MediaRange:
    type: str  # lower case; `*` for any
    subtype: str  # lower case; `*` for any; "" when the item is no media type (it matches nothing)
    params: tuple[tuple[str, str], ...]  # q removed
    quality: float
    text: str  # as the client wrote it, parameters re-quoted, q removed (werkzeug's form)

    @property
    def specificity(self) -> tuple[bool, ...]:
        """One flag per part of the range (type, subtype, each parameter): not a wildcard."""
        return tuple(part != "*" for part in _PARTS.split(self.text))

    def matches(self, mimetype: str) -> bool:
        """Whether `mimetype` (an offer of ours, no parameters) falls in this range."""
        if self.type == "*":
            return self.subtype == "*"
        kind, _, sub = mimetype.lower().partition("/")
        return self.type == kind and (self.subtype == "*" or (self.subtype == sub and not self.params))

    def __str__(self) -> str:
        return self.text if self.quality == 1 else f"{self.text};q={self.quality}"


class Accept(tuple[MediaRange, ...]):
    """The ranges a client accepts, most specific first, then by quality (stable otherwise)."""

    def quality(self, mimetype: str) -> float:
        """The quality of the most specific range that matches, 0 when none does."""
        return next((r.quality for r in self if r.matches(mimetype)), 0)

    def best_match(self, offers: list[str]) -> str | None:
        """The offer whose most specific matching range has the highest quality, then the most specific
        such range; the earlier offer on a tie; None when every offer's range has quality 0."""
        best: tuple[float, tuple[bool, ...]] = (0, ())
        result = None
        for offer in offers:
            media = next((r for r in self if r.matches(offer)), None)
            if media is not None and media.quality > 0 and (media.quality, media.specificity) > best:
                best, result = (media.quality, media.specificity), offer
        return result

    def to_header(self) -> str:
        return ",".join(str(media) for media in self)


def parse_accept(header: str | None) -> Accept:
    """The header's ranges; an absent, empty or unreadable header gives none (a raw image is served)."""
    ranges = [media for item in _split(header or "", ",") if (media := _media_range(item)) is not None]
    return Accept(sorted(ranges, key=lambda r: (r.specificity, r.quality), reverse=True))


def _media_range(item: str) -> MediaRange | None:
    media, *parameters = _split(item, ";")
    params: dict[str, str] = {}
    for parameter in parameters:
        key, equals, value = parameter.partition("=")
        token = _TOKEN.match(value)  # a value is a token or a quoted string right after the `=`
        if equals and _TOKEN.fullmatch(key) and (token or value.startswith('"')):
            params[key.lower()] = _unquoted(value.rstrip(" \t")) if not token else token.group()
    quality = 1.0
    if "q" in params:
        text = params.pop("q").strip(" \t")
        if not _Q_VALUE.fullmatch(text) or not 0 <= float(text) <= 1:
            return None
        quality = float(text)
    kind, slash, sub = media.lower().partition("/")
    display = "; ".join([media, *(f"{key}={_quoted(value)}" for key, value in params.items())])
    return MediaRange(kind, sub if slash else "", tuple(sorted(params.items())), quality, display)


def _split(text: str, separator: str) -> list[str]:
    """`text` split at `separator` outside quoted strings, items stripped, empty ones dropped; [] when
    a quote is left open."""
    items, item, quoted, escaped = [], "", False, False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            items.append(item)
            item = ""
            continue
        item += char
    if quoted:
        return []
    return [part for part in (piece.strip(" \t") for piece in [*items, item]) if part]


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _quoted(value: str) -> str:
    if _TOKEN.fullmatch(value) and value.isascii():
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
