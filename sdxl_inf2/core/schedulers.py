"""The documented set of schedulers a request (or a manifest default) may pick, swapped per request.

Each is built with `from_config` from the artifact's own `scheduler/scheduler_config.json`, so the
noise schedule of the model (betas, prediction type) is kept; only the listed overrides change.
The few-step ones: `lcm` (LCMScheduler, for LCM UNets and LCM-LoRA) and `euler_trailing`
(EulerDiscrete with "trailing" timestep spacing, what SDXL-Lightning's model card prescribes).
Class names are strings here so the front never imports diffusers.
"""

from __future__ import annotations

from typing import Any, Final

# name -> (diffusers class, extra config overrides)
SCHEDULERS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "default": ("", {}),  # the artifact's own scheduler, unchanged
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {}),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "ddim": ("DDIMScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "euler_trailing": ("EulerDiscreteScheduler", {"timestep_spacing": "trailing"}),
}
