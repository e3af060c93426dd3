"""The one way a pydantic ValidationError becomes one line: `where: what is wrong`, of its first problem.

Files (the manifest, the model card, the compile config, the deployment config), request bodies and
environment variables all report their first problem this way; each caller names the whole document
(`top`) and may put its own words on a kind of problem (`words`: "unknown field", "required, not set").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    where: str  # the dotted key (`variants.0.name`, or `variants[0].name`), else the caller's `top`
    message: str  # the caller's words for this kind, else pydantic's without its "Value error, "
    kind: str  # pydantic's error type: missing, extra_forbidden, string_pattern_mismatch, ...
    given: object  # the value that failed (pydantic's `input`)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def first_problem(
    exc: ValidationError,
    top: str,
    *,
    words: Mapping[str, str] | None = None,
    max_where: int | None = None,
    brackets: bool = False,
) -> Problem:
    """The first error of `exc`. `max_where` cuts a long key (an unknown key can be as long as the
    body it came in); `brackets` writes list positions as `key[0]` instead of `key.0`."""
    first = exc.errors()[0]
    parts = (f"[{part}]" if brackets and isinstance(part, int) else f".{part}" for part in first["loc"])
    where = "".join(parts).removeprefix(".") or top
    if max_where is not None and len(where) > max_where:
        where = where[: max_where - 1] + "…"
    kind = str(first["type"])
    message = (words or {}).get(kind) or str(first["msg"]).removeprefix("Value error, ")
    return Problem(where, message, kind, first.get("input"))
