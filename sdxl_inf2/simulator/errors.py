"""The simulator's user error: one line naming the flag, file or config key."""

from __future__ import annotations

from sdxl_inf2.core.errors import SdxlError


class SimulationError(SdxlError):
    """Bad input to `sdxl-inf2 simulate`; printed as one line, exit 2."""
