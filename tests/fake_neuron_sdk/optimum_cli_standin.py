"""Test stand-in for `optimum-cli export neuron`: parses the command with optimum-neuron's real
argument parser, then writes the compiled layout from $FAKE_TINY_MODEL instead of compiling."""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.environ["SDXL_REPO"])
from optimum.commands.export.neuronx import parse_args_neuronx

from tests.neuron_layout import make_neuron_artifact

assert sys.argv[1:3] == ["export", "neuron"], sys.argv
parser = argparse.ArgumentParser()
parse_args_neuronx(parser)
args = parser.parse_args(sys.argv[3:])
print(f"Compiling {args.model} at {args.width}x{args.height} (test stand-in)", flush=True)
if os.environ.get("FAKE_COMPILE_FAIL"):
    print("neuronx-cc: error: out of memory (test stand-in)", flush=True)
    sys.exit(70)
make_neuron_artifact(
    Path(os.environ["FAKE_TINY_MODEL"]),
    args.output,
    height=args.height,
    width=args.width,
    batch_size=args.batch_size,
    images_per_prompt=args.num_images_per_prompt,
)
print(f"[Total compilation Time] 0.1 seconds. Saved to {args.output}", flush=True)
