"""One line for a pydantic ValidationError in a file: `dotted.key: what is wrong` (the first problem).

The manifest, the model card and the compile config are files a person or another program wrote;
each reports its first problem this way, after the file's name.
"""

from __future__ import annotations

from pydantic import ValidationError


def first_problem(exc: ValidationError, top: str) -> str:
    """`key.path: message` of the first error; `top` names the document itself when the key is empty."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or top
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"
