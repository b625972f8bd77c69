"""What accuracy.py and parity.py share: where the built `xent` is, building it, and bfloat16 logits for it."""

import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "src/Xent.Cli/bin/Release/net10.0/Xent.Cli.dll")


def build(skip):
    """Builds src/Xent.Cli in Release unless skip (--no-build); exits where the built CLI is missing."""
    if not skip:
        subprocess.run(["dotnet", "build", os.path.join(ROOT, "src/Xent.Cli"), "-c", "Release", "-v", "q", "-nologo"],
                       check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(CLI):
        sys.exit(f"{CLI} is missing: build it (dotnet build -c Release) or drop --no-build.")


def to_bfloat16(x):
    """x rounded to bfloat16 (to nearest, ties to even), as float32 values."""
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def save_bfloat16(path, logits, targets=None):
    """A safetensors file holding 'logits' (BF16: the upper halves of the float32 values, which are exact) and, if
    given, 'targets' (I64)."""
    data = (logits.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    header = {"logits": {"dtype": "BF16", "shape": list(logits.shape), "data_offsets": [0, len(data)]}}
    if targets is not None:
        header["targets"] = {"dtype": "I64", "shape": list(targets.shape), "data_offsets": [len(data), len(data) + 8 * targets.size]}
        data += targets.astype("<i8").tobytes()
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        f.write(data)
