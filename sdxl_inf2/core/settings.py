"""Settings read from environment variables: strict casts, and one line naming the variable on a bad value.

The server's `Settings` (sdxl_inf2/container/config.py) and the gateway's (sdxl_inf2/gateway/settings.py)
are read with `from_environment`; the string forms below are what CloudWatch and S3 accept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, Field, ValidationError

from .errors import SdxlError
from .validation import first_problem

# kind -> (pattern, what a user should write): what CloudWatch accepts for a namespace and a
# dimension value (aws-embedded-metrics' validator applies the same rules), and an S3 prefix.
_FORMS = {
    "namespace": (r"[a-zA-Z0-9._#:/-]{1,255}", "letters, digits and . _ # : / -, at most 255"),
    "dimension": (r"[\x21-\x39\x3b-\x7e][\x20-\x7e]{0,254}", "printable ASCII, not starting with ':'"),
    "s3_prefix": (r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?", "s3://bucket/prefix/"),
}


def in_form(kind: str) -> AfterValidator:
    """A string check whose error says what to write (`expected ...`), not the regular expression."""
    pattern, form = _FORMS[kind]

    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(f"expected {form}")
        return value

    return AfterValidator(check)


Namespace = Annotated[str, in_form("namespace")]
DimensionValue = Annotated[str, in_form("dimension")]
S3Prefix = Annotated[str, in_form("s3_prefix")]

# A shared-cache lookup's connect and read timeout (cache/s3.py `short_timeouts`), for the container's
# SDXL_CACHE_S3_TIMEOUT_S and the gateway's SDXL_GATEWAY_S3_TIMEOUT_S: both read the tier before
# deciding to render, so a slow S3 must cost a few seconds at most and then read as a miss.
S3_TIMEOUT_S = 2.0
S3TimeoutSeconds = Annotated[float, Field(gt=0, le=60)]


class ConfigError(SdxlError):
    """An environment variable has a bad value; the message is one line naming the variable (`field`)."""


SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def from_environment(
    model: type[SettingsModel], environ: Mapping[str, str], overrides: Mapping[str, object] | None = None
) -> SettingsModel:
    """`model`'s fields from the variables named by their aliases (empty ones ignored); ConfigError
    naming the variable and its value otherwise. The gateway's settings are read with this too."""
    aliases = {field.alias for field in model.model_fields.values() if field.alias}
    values: dict[str, object] = {k: v for k, v in environ.items() if k in aliases and v != ""}
    values.update(overrides or {})
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problem = first_problem(exc, "settings", words={"missing": "required, not set"})
        name = problem.where
        if problem.kind == "missing":
            raise ConfigError(str(problem), field=name) from None
        raise ConfigError(f"{name}={values.get(name)!r}: {problem.message}", field=name) from None
