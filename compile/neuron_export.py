"""`sdxl-inf2 compile`: run `optimum-cli export neuron` once per shape, each into its own folder.

The CLI is used rather than `from_pretrained(export=True)`, which compiles into a temporary folder
and returns nothing on a host without a Neuron device. Compiling SDXL takes 30-45 minutes per shape
and a lot of host memory (60 GB peak measured in optimum-neuron#221; 92-120 GB in AWS/HF guides),
so everything that can be checked is checked before it starts.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.manifest import LoraEntry, Shape, write_manifest
from sdxl_inf2.core.modeldir import ModelDirError, read_compiled_layout

from .config import CompileConfig
from .describe import compiled_fields, write_variants_root

MIN_FREE_GB = 60  # the measured peak; less and the compiler is OOM-killed after many minutes
PEAK_RAM_NOTE = "up to ~100 GB of host RAM (60 GB peak measured; 92-120 GB in AWS/Hugging Face guides)"
Print = Callable[[str], None]


class CompileError(SdxlError):
    """Compilation cannot start or failed; one line saying why and what to do."""


@dataclass(frozen=True)
class ShapeJob:
    shape: Shape
    folder: Path
    command: list[str]


def shape_folder_name(shape: Shape) -> str:
    return f"{shape.width}x{shape.height}"


def plan_jobs(config: CompileConfig, model_ref: str, out: Path) -> list[ShapeJob]:
    return [
        ShapeJob(s, out / shape_folder_name(s), export_command(config, model_ref, s, out / shape_folder_name(s)))
        for s in config.shapes
    ]


def export_command(config: CompileConfig, model_ref: str, shape: Shape, folder: Path) -> list[str]:
    """The exact `optimum-cli export neuron` command for one shape (checked against the real parser)."""
    command = [
        optimum_cli(),
        "export",
        "neuron",
        "--model",
        model_ref,
        "--task",
        "stable-diffusion-xl",
        "--batch_size",
        str(config.batch_size),
        "--height",
        str(shape.height),
        "--width",
        str(shape.width),
        "--num_images_per_prompt",
        str(config.images_per_prompt),
        "--auto_cast",
        config.auto_cast,
        "--auto_cast_type",
        config.auto_cast_type,
        "--torch_dtype",
        config.torch_dtype,
        f"-O{config.optlevel}",
        "--instance_type",
        "inf2",
        "--inline-weights-neff",
        str(folder),
    ]
    if config.unet:
        command += ["--unet", config.unet]
    if config.dynamic_batch_size:
        command.append("--dynamic-batch-size")
    if not config.neuron_cache:
        command.append("--disable_neuron_cache")
    if config.lora:  # nargs="*" options: after the positional output so they cannot swallow it
        command += ["--lora_model_ids", *(a.id for a in config.lora)]
        command += ["--lora_weight_names", *(a.weight_name for a in config.lora)]
        command += ["--lora_adapter_names", *(a.adapter_name for a in config.lora)]
        command += ["--lora_scales", *(f"{a.scale:g}" for a in config.lora)]
    return command


def optimum_cli() -> str:
    """`optimum-cli` from PATH, else the one installed next to this Python."""
    search = os.pathsep.join([os.environ.get("PATH", ""), str(Path(sys.executable).parent)])
    return shutil.which("optimum-cli", path=search) or "optimum-cli"


def model_reference(config: CompileConfig) -> str:
    """A local folder as an absolute path, or a Hub id (downloaded first when a revision is pinned)."""
    local = Path(config.model).expanduser()
    if local.is_dir():
        if not (local / "model_index.json").is_file():
            raise CompileError(f"model folder {local}: no model_index.json (expected a diffusers SDXL folder)")
        return str(local.resolve())
    if config.model.startswith(("/", ".", "~")) or config.model.count("/") != 1:
        raise CompileError(f"model folder {config.model} does not exist (and it is not a Hub id like org/name)")
    return config.model


def check_neuron_compiler() -> None:
    """Refuse early where the Neuron SDK is absent (PyPI's torch-neuronx/neuronx-cc are placeholders)."""
    probe = subprocess.run([sys.executable, "-c", "import torch_neuronx, neuronxcc"], capture_output=True, text=True)
    if probe.returncode != 0 or shutil.which("neuronx-cc") is None:
        last = (probe.stderr.strip().splitlines() or ["neuronx-cc not on PATH"])[-1]
        raise CompileError(
            f"the Neuron compiler is not installed here ({last}); compile on an inf2/trn1 host with Neuron SDK "
            "2.26 (the Neuron DLC or Deep Learning AMI), not with the placeholder packages from PyPI"
        )


def check_free_memory(min_free_gb: float, available_bytes: int | None = None) -> None:
    if available_bytes is None:
        import psutil

        available_bytes = psutil.virtual_memory().available + psutil.swap_memory().free
    free_gb = available_bytes / 2**30
    if free_gb < min_free_gb:
        raise CompileError(
            f"only {free_gb:.0f} GB of memory free; compiling SDXL needs at least {min_free_gb:g} GB "
            f"({PEAK_RAM_NOTE}): use a larger host (inf2.24xlarge or bigger) or add swap"
        )


def check_output(jobs: list[ShapeJob], force: bool) -> None:
    for job in jobs:
        if job.folder.exists() and any(job.folder.iterdir()) and not force:
            raise CompileError(f"{job.folder} already exists and is not empty (use --force to replace it)")


def describe(config: CompileConfig, jobs: list[ShapeJob]) -> str:
    shapes = ", ".join(shape_folder_name(j.shape) for j in jobs)
    cores = config.served_batch().cores
    served = "one NeuronCore (guidance-free)" if cores == 1 else f"{cores} NeuronCores (one chip)"
    return (
        f"compiling {config.model} for inf2: {len(jobs)} shape(s) ({shapes}). Each takes 30-45 minutes "
        f"and {PEAK_RAM_NOTE}; inf2.xlarge cannot compile SDXL. Served with {served} a worker."
    )


def run_job(job: ShapeJob, log_path: Path, echo: Print, heartbeat_s: float = 60.0) -> float:
    """Run one export, streaming its output with elapsed time; return the seconds it took."""
    if job.folder.exists():
        shutil.rmtree(job.folder)
    started = time.monotonic()
    echo(f"$ {shlex.join(job.command)}")
    with (
        log_path.open("w") as log,
        subprocess.Popen(job.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc,
    ):
        last_line = [time.monotonic()]
        stop = _heartbeat(lambda: time.monotonic() - last_line[0] > heartbeat_s, started, echo, heartbeat_s)
        assert proc.stdout is not None
        for line in proc.stdout:
            last_line[0] = time.monotonic()
            log.write(line)
            echo(f"[{_clock(time.monotonic() - started)}] {line.rstrip()}")
        stop.set()
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise CompileError(
            f"optimum-cli failed for {job.folder.name} (exit {proc.returncode}) after "
            f"{_clock(elapsed)}; full log: {log_path}"
        )
    return elapsed


def finish_job(job: ShapeJob, config: CompileConfig) -> None:
    """Check that the export produced the asked shape, then write the folder's manifest."""
    try:
        layout = read_compiled_layout(job.folder)
    except ModelDirError as exc:
        raise CompileError(f"optimum-cli wrote no usable compiled folder: {exc}") from None
    if layout.shape != job.shape or layout.images_per_prompt != config.images_per_prompt:
        raise CompileError(
            f"{job.folder}: compiled {layout.shape} x{layout.images_per_prompt}, "
            f"asked for {job.shape} x{config.images_per_prompt}"
        )
    source = {
        "model_id": config.model if config.unet is None else f"{config.model} + unet {config.unet}",
        "revision": config.revision,
    }
    lora = tuple(LoraEntry(**adapter.model_dump()) for adapter in config.lora)
    write_manifest(job.folder, compiled_fields(job.folder, source, config.defaults, lora, config.torch_dtype))


def _heartbeat(quiet: Callable[[], bool], started: float, echo: Print, every_s: float) -> threading.Event:
    """Print a line when the compiler has been silent for a while (the UNet alone takes ~17 minutes)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            if quiet():
                echo(f"[{_clock(time.monotonic() - started)}] still compiling...")

    threading.Thread(target=beat, daemon=True).start()
    return stop


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def compile_all(config: CompileConfig, out: Path, *, min_free_gb: float, force: bool, echo: Print) -> list[Path]:
    """Preflight, then compile every shape in turn; each folder gets its manifest, and `out` the root
    manifest listing them as variants (what `package` takes; each shape folder is packageable alone too)."""
    model_ref = model_reference(config)
    jobs = plan_jobs(config, model_ref, out)
    check_output(jobs, force)
    check_neuron_compiler()
    check_free_memory(min_free_gb)
    if config.revision and not Path(model_ref).is_dir():
        model_ref = _download(config.model, config.revision, echo)
        jobs = plan_jobs(config, model_ref, out)
    echo(describe(config, jobs))
    out.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for index, job in enumerate(jobs, start=1):
        echo(f"shape {index}/{len(jobs)}: {job.folder.name}")
        total += run_job(job, out / f"{job.folder.name}.log", echo)
        finish_job(job, config)
        echo(f"shape {index}/{len(jobs)}: {job.folder} done in {_clock(total)} so far")
    write_variants_root(out, names=[job.folder.name for job in jobs])
    return [job.folder for job in jobs]


def _download(model_id: str, revision: str, echo: Print) -> str:
    """optimum-cli has no --revision: fetch the pinned revision first and compile the local copy."""
    from huggingface_hub import snapshot_download

    echo(f"downloading {model_id}@{revision}")
    wanted = ["model_index.json", "*/*.json", "*/*.txt", "*/diffusion_pytorch_model.safetensors", "*/model.safetensors"]
    return str(snapshot_download(model_id, revision=revision, allow_patterns=wanted))
