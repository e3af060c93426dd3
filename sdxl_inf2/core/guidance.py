"""Which guidance scales a compiled SDXL can run, as optimum-neuron 0.4.5 runs it; pure, no I/O.

What optimum-neuron 0.4.5 does (optimum/neuron/modeling_diffusion.py, read from its source):

- `set_parallel_mode`: the whole pipeline is data-parallel on the worker's two NeuronCores ("all")
  when the UNet config's `_name_or_path` names an LCM ("lcm" or "latent-consistency" in it, its
  `is_lcm`), else only the UNet is ("unet"); `load_model(data_parallel_mode="none")` loads every
  part on the process's first visible core instead, with no DataParallel: one core is enough;
- `do_classifier_free_guidance` is `guidance_scale > 1 and unet.config.time_cond_proj_dim is None
  and (dynamic_batch_size or data_parallel_mode in ("unet", "transformer"))`: classifier-free
  guidance (CFG) doubles the UNet batch; a UNet with a guidance embedding (LCM) never uses CFG, and
  in "none" mode without a dynamic batch a guidance above 1 is silently ignored;
- data-parallel parts are `torch_neuronx.DataParallel(model, [0, 1], set_dynamic_batching=
  dynamic_batch_size)`. Without dynamic batching the Neuron docs require `batch / 2 == compiled
  batch` (one compiled batch per core).

So with CFG a UNet compiled at batch b gets 2b latents, one b per core. Without CFG (guidance <= 1,
SDXL-Lightning's 0, or an LCM) it gets b, which one core runs alone: such a variant gets one worker
per NeuronCore (`planned`), loaded in "none" mode. Inferred from the code, not run on inf2.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

LCM_NAME_PATTERNS = ("lcm", "latent-consistency")  # optimum-neuron's is_lcm
DATA_PARALLEL_CORES = 2  # the data-parallel device ids optimum-neuron hard-codes: [0, 1]


def names_an_lcm(name_or_path: str) -> bool:
    """optimum-neuron's test for an LCM UNet, which makes it load every component data-parallel."""
    return any(pattern in name_or_path.lower() for pattern in LCM_NAME_PATTERNS)


@dataclass(frozen=True)
class CompiledBatch:
    """The batch facts of a compiled folder that decide which guidance scales can run on it, and
    the NeuronCores of the worker that runs it (`planned` picks them from the default guidance)."""

    unet_batch: int  # the UNet's static batch: batch_size x images per prompt
    images_per_call: int  # latents per prompt the backend asks for (the compiled images per prompt)
    dynamic: bool  # compiled with --dynamic-batch-size
    guidance_embedding: bool  # the UNet has time_cond_proj_dim: guidance is an input, never CFG
    lcm: bool  # the UNet's name makes optimum-neuron load the whole pipeline data-parallel
    cores: int = DATA_PARALLEL_CORES  # the worker's NeuronCores: 1 loads with no data parallelism

    @property
    def data_parallel_mode(self) -> str:
        if self.cores < DATA_PARALLEL_CORES:
            return "none"
        return "all" if self.lcm else "unet"

    def with_cores(self, cores: int) -> CompiledBatch:
        return replace(self, cores=cores)

    def planned(self, guidance_scale: float) -> CompiledBatch:
        """One NeuronCore per worker when the UNet never sees a CFG batch at this (default) guidance
        and runs there; else two, the data-parallel pair."""
        one = self.with_cores(1)
        guidance_free = self.guidance_embedding or guidance_scale <= 1
        return one if guidance_free and one.refusal(guidance_scale) is None else self.with_cores(DATA_PARALLEL_CORES)

    def cfg(self, guidance_scale: float) -> bool:
        """optimum-neuron 0.4.5's do_classifier_free_guidance for this folder."""
        data_parallel = self.data_parallel_mode in ("unet", "transformer")
        return guidance_scale > 1 and not self.guidance_embedding and (self.dynamic or data_parallel)

    def unet_latents(self, guidance_scale: float) -> int:
        return self.images_per_call * (2 if self.cfg(guidance_scale) else 1)

    def refusal(self, guidance_scale: float) -> str | None:
        """Why a generation at this guidance scale cannot run on the compiled folder, or None."""
        if self.cores < DATA_PARALLEL_CORES:
            return self._one_core_refusal(guidance_scale)
        fed = self.unet_latents(guidance_scale)
        if self.dynamic or fed == DATA_PARALLEL_CORES * self.unet_batch or fed == self.unet_batch == 1:
            return None
        return (
            f"guidance_scale {guidance_scale:g}: {self._why(guidance_scale)}, so the UNet gets {fed} latent(s) a "
            f"step; compiled at batch {self.unet_batch}, data-parallel on {DATA_PARALLEL_CORES} NeuronCores, it "
            f"takes {DATA_PARALLEL_CORES * self.unet_batch} (one batch per core) or 1; {self._fix(guidance_scale)}"
        )

    def _one_core_refusal(self, guidance_scale: float) -> str | None:
        """In "none" mode nothing splits the batch: the UNet takes its compiled batch (or a multiple,
        dynamic); and CFG without a dynamic batch is dropped silently, so it is refused instead."""
        if guidance_scale > 1 and not self.guidance_embedding and not self.dynamic:
            return (
                f"guidance_scale {guidance_scale:g}: classifier-free guidance needs 2 latents a step; on one "
                f"NeuronCore (no data parallelism) the UNet, compiled at batch {self.unet_batch}, would run without "
                "it, silently; use guidance_scale <= 1, or serve it with SDXL_CORES_PER_WORKER=2"
            )
        fed = self.unet_latents(guidance_scale)
        if fed == self.unet_batch or (self.dynamic and fed % self.unet_batch == 0):
            return None
        return (
            f"guidance_scale {guidance_scale:g}: {self._why(guidance_scale)}, so the UNet gets {fed} latent(s) a "
            f"step; compiled at batch {self.unet_batch}, on 1 NeuronCore it takes {self.unet_batch}; recompile with "
            "images_per_prompt 1 or --dynamic-batch-size"
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
