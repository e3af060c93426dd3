"""Which guidance scales a compiled SDXL can run, as optimum-neuron 0.4.5 runs it; pure, no I/O.

What optimum-neuron 0.4.5 does (optimum/neuron/modeling_diffusion.py, read from its source):

- `set_parallel_mode`: the whole pipeline is data-parallel on the worker's two NeuronCores ("all")
  when the UNet config's `_name_or_path` names an LCM ("lcm" or "latent-consistency" in it, its
  `is_lcm`), else only the UNet is ("unet");
- `do_classifier_free_guidance` is `guidance_scale > 1 and unet.config.time_cond_proj_dim is None
  and (dynamic_batch_size or data_parallel_mode in ("unet", "transformer"))`: classifier-free
  guidance (CFG) doubles the UNet batch; a UNet with a guidance embedding (LCM) never uses CFG;
- data-parallel parts are `torch_neuronx.DataParallel(model, [0, 1], set_dynamic_batching=
  dynamic_batch_size)`. Without dynamic batching the Neuron docs require `batch / 2 == compiled
  batch` (one compiled batch per core).

So with CFG a UNet compiled at batch b gets 2b latents, one b per core. Without CFG (guidance <= 1,
SDXL-Lightning's 0, or an LCM) it gets b. Inferred, not run on inf2: a batch of 1 runs on one of
the two cores (optimum-neuron's SDXL Turbo guide calls a 1-prompt batch with guidance 0 and says
only even batches use both cores); any other batch that is not twice the compiled one cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass

LCM_NAME_PATTERNS = ("lcm", "latent-consistency")  # optimum-neuron's is_lcm
CORES_PER_WORKER = 2  # the data-parallel device ids optimum-neuron hard-codes: [0, 1]


def names_an_lcm(name_or_path: str) -> bool:
    """optimum-neuron's test for an LCM UNet, which makes it load every component data-parallel."""
    return any(pattern in name_or_path.lower() for pattern in LCM_NAME_PATTERNS)


@dataclass(frozen=True)
class CompiledBatch:
    """The batch facts of a compiled folder that decide which guidance scales can run on it."""

    unet_batch: int  # the UNet's static batch: batch_size x images per prompt
    images_per_call: int  # latents per prompt the backend asks for (the compiled images per prompt)
    dynamic: bool  # compiled with --dynamic-batch-size
    guidance_embedding: bool  # the UNet has time_cond_proj_dim: guidance is an input, never CFG
    lcm: bool  # the UNet's name makes optimum-neuron load the whole pipeline data-parallel

    @property
    def data_parallel_mode(self) -> str:
        return "all" if self.lcm else "unet"

    def cfg(self, guidance_scale: float) -> bool:
        """optimum-neuron 0.4.5's do_classifier_free_guidance for this folder."""
        data_parallel = self.data_parallel_mode in ("unet", "transformer")
        return guidance_scale > 1 and not self.guidance_embedding and (self.dynamic or data_parallel)

    def unet_latents(self, guidance_scale: float) -> int:
        return self.images_per_call * (2 if self.cfg(guidance_scale) else 1)

    def refusal(self, guidance_scale: float) -> str | None:
        """Why a generation at this guidance scale cannot run on the compiled folder, or None."""
        fed = self.unet_latents(guidance_scale)
        if self.dynamic or fed == CORES_PER_WORKER * self.unet_batch or fed == self.unet_batch == 1:
            return None
        return (
            f"guidance_scale {guidance_scale:g}: {self._why(guidance_scale)}, so the UNet gets {fed} latent(s) a "
            f"step; compiled at batch {self.unet_batch}, data-parallel on {CORES_PER_WORKER} NeuronCores, it takes "
            f"{CORES_PER_WORKER * self.unet_batch} (one batch per core) or 1; {self._fix(guidance_scale)}"
        )

    def _why(self, guidance_scale: float) -> str:
        if self.cfg(guidance_scale):
            return "classifier-free guidance doubles the latents"
        if self.guidance_embedding:
            return "this UNet takes guidance as an input (time_cond_proj_dim), not by classifier-free guidance"
        return "guidance_scale <= 1 turns classifier-free guidance off"

    def _fix(self, guidance_scale: float) -> str:
        recompile = "recompile with images_per_prompt 1 or --dynamic-batch-size"
        if guidance_scale <= 1 and not self.guidance_embedding and self.data_parallel_mode == "unet":
            return f"use guidance_scale > 1, or {recompile}"
        return recompile
