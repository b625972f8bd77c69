#!/usr/bin/python3
"""Xent's and PyTorch's float32 cross-entropy against PyTorch in float64, on the same inputs.

Each case is a batch of logits (and class-index targets) that users meet: ordinary rows, logits scaled by 1000, a
common offset, confident rows whose loss is tiny, tied maxima, a masked vocabulary, label smoothing, class weights,
a soft cap, a real vocabulary. The yardstick is `F.cross_entropy` on the same float32 values widened to float64
(a soft cap as s tanh(z / s) in float64 first), and its gradient by autograd. Xent runs through `xent loss` (one
process per case and vector width, `XENT_VECTOR_WIDTH`), PyTorch through `F.cross_entropy` on float32 tensors.

Printed per case: the worst relative error of a row's loss, and the worst error of a row's gradient relative to that
row's largest gradient element, for PyTorch float32 and for Xent at each width this CPU runs.

Run with Debian's interpreter, which has python3-torch: /usr/bin/python3 bench/compare/accuracy.py
See bench/compare/README.md.
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

import numpy as np

from xentcli import CLI, ROOT, build, save_bfloat16, to_bfloat16


def cases(rng):
    """(name, logits [N, V] float32, targets [N], options) for each case."""

    def uniform(n, v, low=-1.0, high=1.0):
        return rng.uniform(low, high, size=(n, v)).astype(np.float32)

    def normal(n, v, scale):
        return (rng.standard_normal(size=(n, v)) * scale).astype(np.float32)

    def targets(n, v):
        return rng.integers(0, v, size=n).astype(np.int64)

    n, v = 16, 50257
    yield "ordinary: N(0, 2^2)", normal(n, v, 2.0), targets(n, v), {}
    yield "logits scaled by 1000", normal(n, v, 1000.0), targets(n, v), {}
    yield "a common offset of 1e4", normal(n, v, 2.0) + np.float32(1e4), targets(n, v), {}

    x, y = uniform(n, v), targets(n, v)
    x[np.arange(n), y] = 25.0
    yield "confident: the target leads by 25 (loss ~1e-6)", x, y, {}

    x, y = uniform(n, v), targets(n, v)
    x[np.arange(n), y] = 17.0
    x[np.arange(n), (y + v // 2) % v] = 17.0
    yield "tied maxima: two logits of 17, one the target", x, y, {}

    x, y = normal(n, v, 2.0), targets(n, v)
    masked = rng.random(size=(n, v)) < 0.5
    masked[np.arange(n), y] = False
    x[masked] = -np.inf
    yield "masked vocabulary: half the logits -inf", x, y, {}

    yield "label smoothing 0.1", normal(n, v, 2.0), targets(n, v), {"label_smoothing": 0.1}

    x, y = uniform(n, v), targets(n, v)
    x[np.arange(n), y] = 20.0
    yield "label smoothing 0.1, confident rows (lead 20)", x, y, {"label_smoothing": 0.1}

    yield "label smoothing 0.1 at an offset of 1e4", normal(n, v, 2.0) + np.float32(1e4), targets(n, v), {"label_smoothing": 0.1}

    weights = rng.uniform(0.5, 1.5, size=v).astype(np.float32)
    yield "class weights in (0.5, 1.5)", normal(n, v, 2.0), targets(n, v), {"weights": weights}

    yield "soft cap 30 on N(0, 20^2)", normal(n, v, 20.0), targets(n, v), {"soft_cap": 30.0}

    n, v = 4, 262144
    yield "vocabulary 262144, N(0, 2^2)", normal(n, v, 2.0), targets(n, v), {}

    n, v = 16, 50257
    yield "bfloat16 logits N(0, 2^2) (PyTorch in bfloat16)", to_bfloat16(normal(n, v, 2.0)), targets(n, v), {"bfloat16": True}


def torch_rows(torch, logits, targets, options, dtype):
    """Per-row losses and d(sum of losses)/d(logits) by PyTorch in dtype."""
    import torch.nn.functional as F

    if options.get("bfloat16") and dtype == torch.float32:
        dtype = torch.bfloat16  # PyTorch's side of the bfloat16 case computes in bfloat16, as it does on such tensors
    z = torch.tensor(logits).to(dtype).requires_grad_(True)
    capped = z
    if "soft_cap" in options:
        s = options["soft_cap"]
        capped = s * torch.tanh(z / s)
    weight = torch.tensor(options["weights"]).to(dtype) if "weights" in options else None
    losses = F.cross_entropy(capped, torch.tensor(targets), weight=weight, reduction="none",
                             label_smoothing=options.get("label_smoothing", 0.0))
    losses.sum().backward()
    return losses.detach().double().numpy(), z.grad.double().numpy()


def xent_rows(folder, logits, targets, options, width):
    """Per-row losses and the gradient of their sum by `xent loss` at the given vector width."""
    if options.get("bfloat16"):
        save_bfloat16(os.path.join(folder, "input.safetensors"), logits, targets)
        inputs = ["--input", os.path.join(folder, "input.safetensors")]
    else:
        np.save(os.path.join(folder, "logits.npy"), logits)
        np.save(os.path.join(folder, "targets.npy"), targets)
        inputs = ["--logits", os.path.join(folder, "logits.npy"), "--targets", os.path.join(folder, "targets.npy")]
    args = ["dotnet", CLI, "loss", *inputs, "--reduction", "none",
            "--losses", os.path.join(folder, "losses.npy"), "--grad", os.path.join(folder, "grad.npy"), "--json"]
    if "weights" in options:
        np.save(os.path.join(folder, "weights.npy"), options["weights"])
        args += ["--weights", os.path.join(folder, "weights.npy")]
    if "label_smoothing" in options:
        args += ["--label-smoothing", str(options["label_smoothing"])]
    if "soft_cap" in options:
        args += ["--soft-cap", str(options["soft_cap"])]
    env = dict(os.environ, XENT_VECTOR_WIDTH=width)
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"xent loss failed ({result.returncode}) at width {width}:\n{result.stdout}{result.stderr}")
    losses = np.load(os.path.join(folder, "losses.npy")).astype(np.float64)
    grad = np.load(os.path.join(folder, "grad.npy")).astype(np.float64)
    return losses, grad


def errors(losses, grad, ref_losses, ref_grad):
    """Worst relative error of a row's loss; worst error of a row's gradient over that row's largest element."""
    loss_error = np.max(np.abs(losses - ref_losses) / np.abs(ref_losses))
    scale = np.max(np.abs(ref_grad), axis=1, keepdims=True)
    grad_error = np.max(np.abs(grad - ref_grad) / scale)
    return loss_error, grad_error


def widths():
    """The vector widths this CPU accelerates, widest first, and scalar."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags") or line.startswith("Features")), "")
    except OSError:
        pass
    found = []
    if " avx512f" in flags:
        found.append("512")
    if " avx2" in flags:
        found.append("256")
    found += ["128", "scalar"]
    return found


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", help="comma-separated widths (512, 256, 128, scalar); default: those this CPU runs")
    parser.add_argument("--no-build", action="store_true", help="use the built xent as it is")
    parser.add_argument("--seed", type=int, default=1)
    a = parser.parse_args()
    import torch

    build(a.no_build)
    chosen = a.widths.split(",") if a.widths else widths()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# {cpu_name()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, Xent {commit}, PyTorch {torch.__version__}")
    print()
    print("Worst relative error of a row's loss; worst error of a row's gradient over its largest element. Yardstick:")
    print("PyTorch's F.cross_entropy in float64 on the same float32 values.")
    print()
    print("| case | PyTorch float32 | " + " | ".join(f"Xent {w}" + (" bits" if w != "scalar" else "") for w in chosen) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in chosen) + " |")
    rng = np.random.default_rng(a.seed)
    with tempfile.TemporaryDirectory() as folder:
        for name, logits, targets, options in cases(rng):
            ref_losses, ref_grad = torch_rows(torch, logits, targets, options, torch.float64)
            cells = [errors(*torch_rows(torch, logits, targets, options, torch.float32), ref_losses, ref_grad)]
            for w in chosen:
                cells.append(errors(*xent_rows(folder, logits, targets, options, w), ref_losses, ref_grad))
            print(f"| {name} | " + " | ".join(f"{l:.1e}; {g:.1e}" for l, g in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
