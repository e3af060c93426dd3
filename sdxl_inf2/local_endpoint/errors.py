"""What `sdxl-inf2 local-endpoint` can fail with at start: one line for `sdxl-inf2: error: ...`, exit 2."""

from __future__ import annotations

from sdxl_inf2.core.errors import SdxlError


class LocalEndpointError(SdxlError):
    """local-endpoint cannot start: a model folder, a port, an AWS endpoint; one line saying which."""
