"""mkdocs hook: the configuration tables, generated from the code at build time so they cannot drift.

A page marks where a table goes with a comment alone on its line; `mkdocs build` replaces it:

    <!-- table: server-settings -->    the server's `Settings` (sdxl_inf2/container/config.py)
    <!-- table: gateway-settings -->   the gateway's `GatewaySettings` (sdxl_inf2/gateway/settings.py)
    <!-- table: deploy-config -->      every key of deploy/example.yaml, described by its comments, with
                                       type and default from `DeployConfig` (sdxl_inf2/deploy/config.py)

A settings row is a field's alias (the variable), its type and bounds, its default and its
`description=`; a field without a description, an unknown marker, or a key of the example that the
config model does not know fails the build. tests/test_docs.py checks the tables without mkdocs.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sdxl_inf2.container.config import Settings
from sdxl_inf2.deploy import config as deploy_config
from sdxl_inf2.gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "example.yaml"
MARKER = re.compile(r"^<!-- table: ([a-z-]+) -->$", re.MULTILINE)
FREE_FORM = ("environment", "tags")  # mappings of the user's own names: their keys are not config keys
BOUNDS = {annotated_types.Ge: "≥", annotated_types.Gt: ">", annotated_types.Le: "≤", annotated_types.Lt: "<"}
NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path", dict: "mapping"}


Row = tuple[str, str, str, str]  # name, type, default, meaning


class TableError(Exception):
    """The documentation and the code disagree; the message says where."""


def cell(text: str) -> str:
    """One table cell on one line. Outside code spans, pipes are escaped and `<...>` shown as text;
    inside them Python-Markdown's tables take both as they are."""
    parts = " ".join(text.split()).split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def table(header: Row, rows: list[Row]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows])


def unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """(the base type without Annotated and None, with every constraint found on the way)."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            metadata = [*metadata, *extra]
        elif origin in (Union, types.UnionType) and type(None) in get_args(annotation):
            (annotation,) = [arg for arg in get_args(annotation) if arg is not type(None)]
        else:
            return annotation, metadata


def constraint(item: Any, counted: str) -> str | None:
    """One constraint in words: a bound, a length, or the form a string check asks for."""
    for kind, sign in BOUNDS.items():
        if isinstance(item, kind):
            return f"{sign} {getattr(item, kind.__name__.lower()):g}"
    if isinstance(item, annotated_types.MaxLen):
        return f"at most {item.max_length} {counted}"
    if isinstance(item, annotated_types.MinLen):
        return f"at least {item.min_length} {counted}" if item.min_length > 1 else "not empty"
    pattern = getattr(item, "pattern", None)
    if isinstance(pattern, str):  # the deploy config's patterns carry the form to write (`matching`)
        hints: dict[str, str] = getattr(deploy_config, "_HINTS", {})
        return hints.get(pattern, f"matching `{pattern}`")
    func = getattr(item, "func", None)  # a string check built by sdxl_inf2.core.settings.in_form
    form = inspect.getclosurevars(func).nonlocals.get("form") if callable(func) else None
    return str(form) if form else None


def type_text(field: FieldInfo) -> str:
    base, metadata = unwrap(field.annotation, list(field.metadata))
    origin = get_origin(base)
    if origin is Literal:
        words = "one of " + ", ".join(f"`{value}`" for value in get_args(base))
    elif origin is list:
        (item,) = get_args(base)
        words = "list of " + (
            "items (keys below)"
            if isinstance(item, type) and issubclass(item, BaseModel)
            else type_text(FieldInfo.from_annotation(item))
        )
    elif isinstance(base, type) and issubclass(base, BaseModel):
        words = "section"
    else:
        words = NAMES.get(origin or base, getattr(base, "__name__", str(base)))
    counted = "characters" if base is str else "entries"
    found = [text for text in (constraint(item, counted) for item in metadata) if text]
    return f"{words} ({', '.join(found)})" if found else words


def default_text(field: FieldInfo) -> str:
    value = field.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, float):
        value = f"{value:g}"
    return f"`{value}`" if str(value) else '`""`'


def settings_rows(model: type[BaseModel]) -> list[Row]:
    rows: list[Row] = []
    for name, field in model.model_fields.items():
        if not field.description:
            raise TableError(f"{model.__name__}.{name}: no description= to document {field.alias}")
        rows.append((f"`{field.alias}`", type_text(field), default_text(field), field.description))
    return rows


def settings_table(model: type[BaseModel]) -> str:
    return table(("variable", "type", "default", "meaning"), settings_rows(model))


def example_keys(text: str) -> Iterator[tuple[str, str]]:
    """(dotted key, the comment above it) for every key of a commented YAML file, in file order.

    A comment block belongs to the key on the line after it; a blank line ends it. Items of a list are
    written `key[].item`. Keys inside `environment` and `tags` are the user's own, so they are skipped.
    """
    comment: list[str] = []
    stack: list[tuple[int, str]] = []  # (indent, dotted key) of the keys that contain this line
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        found = re.match(r"^( *)(- )?([A-Za-z_][A-Za-z0-9_]*):", line)
        if not found:
            comment = []
            continue
        if found[2]:  # `- key:` opens a list item: it holds its keys, one level below the list's key
            item = len(found[1])
            while stack and stack[-1][0] >= item:
                stack.pop()
            stack.append((item, f"{stack[-1][1]}[]"))
        indent = len(found[1]) + len(found[2] or "")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = f"{stack[-1][1]}.{found[3]}" if stack else found[3]
        stack.append((indent, key))
        if not key.startswith(tuple(f"{name}." for name in FREE_FORM)):
            yield key, " ".join(comment)
        comment = []


def deploy_field(path: str) -> FieldInfo:
    """The DeployConfig field a dotted example key names."""
    model: type[BaseModel] = deploy_config.DeployConfig
    field: FieldInfo | None = None
    for part in path.replace("[]", "").split("."):
        if field is not None:
            base, _ = unwrap(field.annotation, [])
            base = get_args(base)[0] if get_origin(base) is list else base
            if not (isinstance(base, type) and issubclass(base, BaseModel)):
                raise TableError(f"deploy/example.yaml: {path}: {part} is inside a value, not a section")
            model = base
        field = model.model_fields.get(part)
        if field is None:
            raise TableError(f"deploy/example.yaml: {path}: not a key of {model.__name__} (sdxl_inf2/deploy/config.py)")
    assert field is not None
    return field


def split_default(comment: str) -> tuple[str | None, str]:
    """('X', the rest) for a comment that opens with 'default: X.', else (None, the comment)."""
    found = re.match(r"default(?: \(empty\))?: ", comment)
    if not found:
        return None, comment
    said, _, meaning = comment[found.end() :].partition(". ")
    return said.removesuffix("."), meaning


def deploy_rows(text: str) -> list[Row]:
    """One row per key of the example: type and default from the model; where the model leaves a key
    unset and computes it later, the default as the comment words it."""
    rows: list[Row] = []
    seen: set[str] = set()
    for key, comment in example_keys(text):
        if key in seen:  # a second list item repeats the first one's keys
            continue
        seen.add(key)
        field = deploy_field(key)
        said, meaning = split_default(comment)
        default = default_text(field)
        rows.append((f"`{key}`", type_text(field), said if said and default == "unset" else default, meaning))
    return rows


def deploy_table(text: str | None = None) -> str:
    return table(("key", "type", "default", "meaning"), deploy_rows(EXAMPLE.read_text() if text is None else text))


TABLES: dict[str, Callable[[], str]] = {
    "server-settings": lambda: settings_table(Settings),
    "gateway-settings": lambda: settings_table(GatewaySettings),
    "deploy-config": deploy_table,
}


def render(markdown: str, where: str = "page") -> str:
    def replace(found: re.Match[str]) -> str:
        make = TABLES.get(found[1])
        if make is None:
            raise TableError(f"{where}: unknown table {found[1]!r} (known: {', '.join(TABLES)})")
        return make()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, *, page: Any, **_: Any) -> str:
    """mkdocs' page hook: the markers of this page replaced by their tables."""
    return render(markdown, page.file.src_path)
