"""The core's Accept reader (sdxl_inf2/core/accept.py) against werkzeug's, which Flask used before:
on generated headers both give the same negotiation (the response type, or the same 406 message)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from sdxl_inf2.core.accept import parse_accept
from sdxl_inf2.core.errors import NotAcceptable
from sdxl_inf2.core.negotiation import IMAGE_TYPES, JSON, negotiate

TYPES = [*IMAGE_TYPES.values(), JSON, "image/*", "*/*", "application/*", "text/html", "IMAGE/PNG", "*/png", "png"]
PARAMS = ["", ";level=1", '; charset="utf-8"', ";Q=0.5", ";q=0", ";q=0.25", ";q=1.0", ";q=1.5", ";q=abc", ";q= 0.7"]
FORMATS = [None, *IMAGE_TYPES]

EXTRA = ["", ";q=0.9", " ; foo=bar"]
media_range = st.builds(lambda *parts: "".join(parts), *(st.sampled_from(v) for v in (TYPES, PARAMS, EXTRA)))
headers = st.builds(lambda items, sep: sep.join(items), st.lists(media_range, max_size=5), st.sampled_from([",", ", "]))


def outcome(accept: object, requested: str | None) -> tuple[bool, str] | str:
    try:
        plan = negotiate(accept, requested)  # type: ignore[arg-type]
    except NotAcceptable as exc:
        return exc.message
    return plan.as_json, plan.output_format


@settings(max_examples=400, deadline=None)
@given(headers, st.sampled_from(FORMATS))
def test_negotiation_matches_werkzeug(header: str, requested: str | None) -> None:
    assert outcome(parse_accept(header), requested) == outcome(parse_accept_header(header, MIMEAccept), requested)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", ""),
        ('image/png;x="a,b", application/json;q=0.5', 'image/png; x="a,b",application/json;q=0.5'),
        ('image/png;x="open', ""),  # an unclosed quote: werkzeug reads no ranges at all
        ("*/*;q=0.1, image/*;q=0.5, image/webp", "image/webp,image/*;q=0.5,*/*;q=0.1"),
    ],
)
def test_header_text_as_werkzeug_writes_it(header: str, expected: str) -> None:
    assert parse_accept(header).to_header() == expected == parse_accept_header(header, MIMEAccept).to_header()
