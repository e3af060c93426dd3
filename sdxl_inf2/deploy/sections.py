"""The base of every section of the deployment config (config.py, scaling_config.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Strict and immutable: an unknown key is an error (a typo never falls back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
