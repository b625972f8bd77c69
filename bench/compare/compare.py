#!/usr/bin/python3
"""Xent beside PyTorch on the same shapes, in one sitting, with the same thread count on both sides.

Cases: cross-entropy forward and forward+backward, the GEMMs of GPT-2 small (head and blocks), the unfused
linear + cross-entropy (logits = h W^T, loss, dh, dW), the GPT-2-small training step (AdamW, clipping), and
`xent bench`'s memory read limit beside PyTorch's own reading speed (x.sum() of the logits' size).
Xent's side runs through its own entry points (`xent bench`, and the tools of bench/Xent.Benchmarks: ce-calls,
gemm, lce-compare, training-step), each in a process of its own, right after PyTorch's run of the same case.
Prints one table: median [min - max] per side, and the ratio Xent / PyTorch (below 1: Xent is faster).

Run with Debian's interpreter, which has python3-torch: /usr/bin/python3 bench/compare/compare.py [--quick]
See bench/compare/README.md.
"""

import argparse
import ctypes
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FULL = {
    "ce": [(256, 50257), (2048, 50257), (8192, 32000)],
    # A classifier's few classes and the default model's 32: each row's fixed cost, not memory, sets the time. Calls of
    # 0.1 ms, so many runs on both sides.
    "ce_small": [(2048, 10), (2048, 32), (2048, 128)],
    "small_runs": 200,
    # Xent's side of those: rounds of `ce-calls` (about 20 ms of back-to-back calls each).
    "small_rounds": 21,
    # (M, N, K, layout): the head h W^T ([N, D] x [V, D]^T) and the blocks' x W^T with W [3D, D], [4D, D], [D, 4D]
    # at N = B T = 2048 (nt: B stored transposed, as nn.Linear keeps W), their backward dX = dY W (nn) and
    # dW = dY^T X (tn), and the ends N = 256 and 8192.
    "gemm": [(2048, 50257, 768, "nt"), (2048, 2304, 768, "nt"), (2048, 3072, 768, "nt"), (2048, 768, 3072, "nt"),
             (2048, 768, 3072, "nn"), (2048, 3072, 768, "nn"), (2304, 768, 2048, "tn"), (768, 3072, 2048, "tn"),
             (256, 3072, 768, "nt"), (8192, 3072, 768, "nt"), (3072, 768, 8192, "tn")],
    "lce": [(2048, 768, 50257)],
    # The training step: GPT-2 small widths, 12 layers, T 64, batch 4.
    "step": ("gpt2-L12", dict(vocab=50257, ctx=64, layers=12, heads=12, dim=768, batch=4, seq=64)),
    "runs": 5,
    "steps": 5,
}
QUICK = {
    "ce": [(64, 1000), (128, 3000)],
    "ce_small": [(256, 10)],
    "small_runs": 5,
    "small_rounds": 3,
    "gemm": [(64, 1000, 64, "nt"), (128, 192, 64, "nn"), (96, 64, 128, "tn")],
    "lce": [(64, 64, 1000)],
    # The `xent train` default model: V 32, T 128, L 2, D 64, H 4, batch 16.
    "step": ("default", dict(vocab=32, ctx=128, layers=2, heads=4, dim=64, batch=16, seq=128)),
    "runs": 3,
    "steps": 3,
}


def blas_info(torch):
    """Which BLAS the process loaded (torch's BLAS_INFO=generic means the system's libblas.so.3) and its core."""
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            # Not numpy's own OpenBLAS (its wheel's, which torch does not call) nor the GPU's cuBLAS.
            if ("blas" in path or "mkl" in path) and "numpy.libs" not in path and "cublas" not in path:
                libs.add(path)
    cfg = torch.__config__.show()
    # pip's x86 wheels link MKL into torch itself: no library of its own to find, but the build says which.
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", cfg)
    core = f"MKL {mkl.group(1)}, linked into torch" if mkl and not libs else "?"
    for lib in libs:
        try:
            handle = ctypes.CDLL(lib)
            handle.openblas_get_corename.restype = ctypes.c_char_p
            handle.openblas_get_config.restype = ctypes.c_char_p
            core = f"{handle.openblas_get_config().decode()}; core {handle.openblas_get_corename().decode()}"
            break
        except (OSError, AttributeError):
            continue
    match = re.search(r"BLAS_INFO=(\w+)", cfg)
    return f"BLAS_INFO={match.group(1) if match else '?'}; loaded {', '.join(sorted(libs)) or 'none'}; {core}"


def timed(fn, runs):
    """Warm up until two calls in a row agree within 10% (at most 10), then `runs` timed calls: seconds."""
    previous = None
    for _ in range(10):
        start = time.perf_counter()
        fn()
        t = time.perf_counter() - start
        if previous is not None and abs(t - previous) < 0.1 * min(t, previous):
            break
        previous = t
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def summary(times):
    return statistics.median(times), min(times), max(times)


class Xent:
    def __init__(self, threads, build, bench_dll):
        self.threads = threads
        self.bench = bench_dll or os.path.join(ROOT, "bench/Xent.Benchmarks/bin/Release/net10.0/Xent.Benchmarks.dll")
        self.cli = os.path.join(ROOT, "src/Xent.Cli/bin/Release/net10.0/Xent.Cli.dll")
        if build:
            for project in ("bench/Xent.Benchmarks", "src/Xent.Cli"):
                subprocess.run(["dotnet", "build", os.path.join(ROOT, project), "-c", "Release", "-v", "q", "-nologo"],
                               check=True, stdout=subprocess.DEVNULL)
        for path in (self.bench, self.cli):
            if not os.path.exists(path):
                sys.exit(f"{path} is missing: build it (dotnet build -c Release) or drop --no-build.")

    def run(self, dll, *args):
        # DOTNET_PROCESSOR_COUNT caps the thread pool too, for the calls that use "all cores" (lce-compare).
        env = dict(os.environ, DOTNET_PROCESSOR_COUNT=str(self.threads))
        result = subprocess.run(["dotnet", dll, *map(str, args)], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            sys.exit(f"{os.path.basename(dll)} {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result.stdout

    def cross_entropy(self, n, v, runs):
        """(forward, forward+backward) seconds lists from `xent bench --json`: only median, min and max come back."""
        report = json.loads(self.run(self.cli, "bench", "--rows", n, "--vocab", v, "--threads", self.threads,
                                     "--iterations", runs, "--json"))
        cases = {c["case"]: c for c in report["cases"]}
        pick = lambda c: (c["median_ms"] / 1e3, c["min_ms"] / 1e3, c["max_ms"] / 1e3)
        return pick(cases["Xent Loss"]), pick(cases["Xent Loss+Grad"])

    def cross_entropy_calls(self, n, v, rounds):
        """(forward, forward+backward) seconds from `ce-calls`: calls back to back on the same logits, as PyTorch's side is
        timed. Per round the mean call of about 20 ms of calls; median, min and max over rounds.

        Not `xent bench` for few classes: its runs alternate with memory-limit copies into the gradient buffer, and a
        call after them finds that buffer out of its cache (streaming stores) or in the other core's (one-thread copies):
        2048 x 128 forward+backward took 149 us a call there against 91 back to back (Zen 5, 2 threads, 2026-12-07).
        """
        out = self.run(self.bench, "ce-calls", n, v, self.threads, rounds)
        rows = {}
        for line in out.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and re.match(r"^[\d.]+ - [\d.]+$", cells[2]):
                low, high = (float(x) for x in cells[2].split(" - "))
                rows[cells[0]] = (float(cells[1]) / 1e6, low / 1e6, high / 1e6)
        if set(rows) != {"Loss", "LossAndGradient"}:
            sys.exit("could not read ce-calls' output:\n" + out)
        return rows["Loss"], rows["LossAndGradient"]

    def read_limit(self, n, v):
        """(GB/s, method, threads) of the read limit `xent bench --json` measured at [n, v] (the limit of its Loss)."""
        report = json.loads(self.run(self.cli, "bench", "--rows", n, "--vocab", v, "--threads", self.threads, "--json"))
        ofs = [c["fraction_of_memory_limit"] for c in report["cases"] if c["case"] == "Xent Loss"]
        return report["read_gb_per_s"], report.get("read_method", "?"), report.get("read_threads", "?"), ofs[0]

    def gemm_round(self, shapes):
        """One round of `gemm-limit`: per shape, seconds of one Gemm call and of the same flops as bare FMA chains, wall then CPU."""
        out = self.run(self.bench, "gemm-limit", 1, self.threads, *(f"{m}x{n}x{k}:{l}" for m, n, k, l in shapes))
        rows = [json.loads(line[5:]) for line in out.splitlines() if line.startswith("json ")]
        return [(r["gemm_s"][0], r["limit_s"][0], r["gemm_cpu_s"][0], r["limit_cpu_s"][0]) for r in rows]

    def linear_cross_entropy(self, n, d, v, runs):
        """Unfused and fused LossAndGradients from lce-compare (interleaved rounds), seconds."""
        out = self.run(self.bench, "lce-compare", "random", runs, n, d, v)
        rows = {}
        for line in out.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and re.match(r"^[\d.]+ - [\d.]+$", cells[2]):
                low, high = (float(x) for x in cells[2].split(" - "))
                rows[cells[0]] = (float(cells[1]), low, high)
        return rows["Unfused LossAndGradients"], rows["Fused LossAndGradients"]

    def training_step(self, shape, steps):
        out = self.run(self.bench, "training-step", shape, steps, self.threads)
        match = re.search(r"step median ([\d.]+) ms \(min ([\d.]+), max ([\d.]+)", out)
        if not match:
            sys.exit("could not read training-step's output:\n" + out)
        return tuple(float(x) / 1e3 for x in match.groups())


class Torch:
    def __init__(self, torch, threads):
        self.torch = torch
        self.F = torch.nn.functional
        torch.set_num_threads(threads)
        torch.manual_seed(1)

    def cross_entropy(self, n, v, runs):
        torch, F = self.torch, self.F
        logits = torch.randn(n, v) * 4
        targets = torch.randint(0, v, (n,))
        with torch.no_grad():
            forward = timed(lambda: F.cross_entropy(logits, targets), runs)
        x = logits.clone().requires_grad_()

        def both():
            x.grad = None
            F.cross_entropy(x, targets).backward()

        return summary(forward), summary(timed(both, runs))

    def read(self, n, v, runs):
        """Seconds of x.sum() over a touched float tensor of n x v (every float read once)."""
        x = self.torch.randn(n, v)
        return timed(lambda: x.sum(), runs)

    def gemm_call(self, m, n, k, layout):
        """C = op(A) op(B) into a preallocated C, A and B stored as the layout says (t: transposed, a view)."""
        torch = self.torch
        a = torch.randn(k, m).t() if layout[0] == "t" else torch.randn(m, k)
        b = torch.randn(n, k).t() if layout[1] == "t" else torch.randn(k, n)
        c = torch.empty(m, n)
        return lambda: torch.matmul(a, b, out=c)

    def linear_cross_entropy(self, n, d, v, runs):
        torch, F = self.torch, self.F
        h = (torch.randn(n, d) * 0.5).requires_grad_()
        w = (torch.randn(v, d) * 0.02).requires_grad_()
        targets = torch.randint(0, v, (n,))

        def step():
            h.grad = w.grad = None
            F.cross_entropy(h @ w.t(), targets).backward()

        return summary(timed(step, runs))

    def training_step(self, shape, steps):
        torch = self.torch
        model = Gpt(torch, shape)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
        b, t, v = shape["batch"], shape["seq"], shape["vocab"]
        tokens = torch.randint(0, v, (b, t))
        targets = torch.randint(0, v, (b, t))

        def step():
            optimizer.zero_grad(set_to_none=True)
            logits = model(tokens)
            loss = self.F.cross_entropy(logits.view(b * t, v), targets.view(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

        return summary(timed(step, steps))


def Gpt(torch, s):
    """GPT-2 as Xent's GptModel: learned positions, pre-LayerNorm blocks, tanh GELU, tied unembedding."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            d = s["dim"]
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.c_attn, self.attn_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.c_fc, self.mlp_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.register_buffer("mask", torch.ones(s["ctx"], s["ctx"], dtype=torch.bool).tril())

        def forward(self, x):
            b, t, d = x.shape
            h = s["heads"]
            q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / (d // h) ** 0.5
            att = att.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, d)
            x = x + self.attn_proj(y)
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(s["vocab"], s["dim"])
            self.wpe = nn.Embedding(s["ctx"], s["dim"])
            self.blocks = nn.ModuleList(Block() for _ in range(s["layers"]))
            self.ln_f = nn.LayerNorm(s["dim"])

        def forward(self, tokens):
            x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1]))
            for block in self.blocks:
                x = block(x)
            return self.ln_f(x) @ self.wte.weight.t()

    return Model()


def gemm_table(shapes, rounds, xent, peer, threads):
    """
    GEMM against the FMA limit, round by round: each round times one call of every shape in PyTorch, then runs
    `gemm-limit` for one round (Xent's call, then the same flops as bare FMA chains on as many threads, per shape).
    Each side is held against the limit of the same round, in two ways: by CPU time (all threads of the process; a
    machine shared with other programs leaves it nearly alone, as it leaves out the time spent waiting for a core),
    median over rounds; and by wall time, best round of each (the least disturbed).
    """
    calls = [peer.gemm_call(*shape) for shape in shapes]
    for call in calls:
        timed(call, 1)
    n = len(shapes)
    torch_s, torch_cpu, xent_s, xent_cpu, limit_s, limit_cpu = ([[] for _ in range(n)] for _ in range(6))
    for _ in range(rounds):
        for i, call in enumerate(calls):
            # As gemm-limit does: enough calls for about 60 ms at 300 GFLOP/s, so small shapes are not timer noise.
            m, nn, k, _ = shapes[i]
            reps = min(1000, max(1, math.ceil(0.06 * 300e9 / (2.0 * m * nn * k))))
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(reps):
                call()
            torch_s[i].append((time.perf_counter() - start) / reps)
            torch_cpu[i].append((time.process_time() - cpu) / reps)
        for i, (x, lim, xc, lc) in enumerate(xent.gemm_round(shapes)):
            xent_s[i].append(x)
            limit_s[i].append(lim)
            xent_cpu[i].append(xc)
            limit_cpu[i].append(lc)
    print()
    print("| GEMM op(A) op(B), M x N x K | layout | Xent, of the FMA limit: CPU median (wall best) | "
          "PyTorch, of the FMA limit: CPU median (wall best) | Xent / PyTorch time: CPU median (wall best) | "
          "FMA limit GFLOP/s (wall best) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, (m, nn, k, layout) in enumerate(shapes):
        share = lambda cpu: statistics.median(l / s for l, s in zip(limit_cpu[i], cpu))
        best = lambda wall: min(limit_s[i]) / min(wall)
        ratio = statistics.median(a / b for a, b in zip(xent_cpu[i], torch_cpu[i]))
        print(f"| {m} x {nn} x {k} | {layout} | {share(xent_cpu[i]):.0%} ({best(xent_s[i]):.0%}) | "
              f"{share(torch_cpu[i]):.0%} ({best(torch_s[i]):.0%}) | {ratio:.2f} ({min(xent_s[i]) / min(torch_s[i]):.2f}) | "
              f"{2.0 * m * nn * k / min(limit_s[i]) / 1e9:.0f} |", flush=True)
    print()


def read_table(shapes, xent, peer):
    """xent bench's read limit (the bound its "of limit" column divides by) beside PyTorch reading the same bytes."""
    print()
    print("| memory read | shape | xent bench read limit (method, threads) | Xent Loss, of that limit "
          "| PyTorch x.sum() GB/s median [min - max] | limit / PyTorch |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n, v in shapes:
        # PyTorch before and after Xent's process, pooled: the sitting's drift falls on both sides.
        times = peer.read(n, v, 25)
        limit, method, threads, of_limit = xent.read_limit(n, v)
        times += peer.read(n, v, 25)
        gb = [n * v * 4 / t / 1e9 for t in times]
        med = statistics.median(gb)
        print(f"| memory read | [{n}, {v}] | {limit:.1f} GB/s ({method}, {threads} thr) | {100 * of_limit:.0f}% "
              f"| {med:.1f} [{min(gb):.1f} - {max(gb):.1f}] | {limit / med:.2f} |", flush=True)


def fmt(s):
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    return f"{s * 1e3:.1f} ms" if s < 10 else f"{s:.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes: checks that every case runs (seconds)")
    parser.add_argument("--threads", type=int, default=2, help="threads on both sides (default 2)")
    parser.add_argument("--no-build", action="store_true", help="use the Release builds already there")
    parser.add_argument("--bench-dll", help="Xent.Benchmarks.dll to run (default: its Release build in bench/)")
    parser.add_argument("--rounds", type=int, help="rounds of the GEMM table (default: the runs of the shapes chosen)")
    parser.add_argument("--only", default="ce,ce-small,gemm,lce,step,read",
                        help="comma-separated cases: ce, ce-small (few classes: 10, 32, 128), gemm, lce, step, "
                             "read (xent bench's read limit beside PyTorch's x.sum())")
    args = parser.parse_args()
    threads = str(args.threads)
    # OpenBLAS reads its thread count when loaded: before importing torch.
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[key] = threads
    os.environ["DOTNET_gcServer"] = "0"
    import torch

    cfg = QUICK if args.quick else FULL
    only = set(args.only.split(","))
    xent, peer = Xent(args.threads, not args.no_build, args.bench_dll), Torch(torch, args.threads)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    print(f"# Xent vs PyTorch {torch.__version__}, {args.threads} thread(s) each, {'quick' if args.quick else 'full'} shapes")
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {cpu}; {os.cpu_count()} CPUs; "
          f"{'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'no AVX2'}; load average {load}")
    print(f"# {blas_info(torch)}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset: detected)')}")
    if only & {"ce", "ce-small", "lce", "step"}:
        print()
        print("| case | shape | Xent median [min - max] | PyTorch median [min - max] | Xent / PyTorch |")
        print("| --- | --- | --- | --- | --- |")

    def row(case, shape, x, p):
        print(f"| {case} | {shape} | {fmt(x[0])} [{fmt(x[1])} - {fmt(x[2])}] | "
              f"{fmt(p[0])} [{fmt(p[1])} - {fmt(p[2])}] | {x[0] / p[0]:.2f} |", flush=True)

    runs = cfg["runs"]
    # Large shapes through `xent bench`, whose reruns of the memory limits cannot move logits that no cache holds;
    # few classes through `ce-calls`, timed back to back as PyTorch is (Xent.cross_entropy_calls).
    ce_shapes = ([(shape, runs, xent.cross_entropy) for shape in cfg["ce"]] if "ce" in only else []) + \
        ([(shape, cfg["small_runs"], lambda n, v, _: xent.cross_entropy_calls(n, v, cfg["small_rounds"]))
          for shape in cfg["ce_small"]] if "ce-small" in only else [])
    if ce_shapes:
        for (n, v), ce_runs, xent_side in ce_shapes:
            pf, pb = peer.cross_entropy(n, v, ce_runs)
            xf, xb = xent_side(n, v, ce_runs)
            row("cross-entropy forward", f"[{n}, {v}]", xf, pf)
            row("cross-entropy forward+backward", f"[{n}, {v}]", xb, pb)
    if "gemm" in only:
        gemm_table(cfg["gemm"], args.rounds or runs, xent, peer, args.threads)
    if "lce" in only:
        for n, d, v in cfg["lce"]:
            p = peer.linear_cross_entropy(n, d, v, runs)
            unfused, fused = xent.linear_cross_entropy(n, d, v, runs)
            row("linear + cross-entropy, loss and gradients, unfused", f"{n} x {d} x {v}", unfused, p)
            row("(Xent fused LinearCrossEntropy vs PyTorch unfused)", f"{n} x {d} x {v}", fused, p)
    if "step" in only:
        name, shape = cfg["step"]
        p = peer.training_step(shape, cfg["steps"])
        row("training step (AdamW, clip 1.0)", f"{name}: L {shape['layers']}, D {shape['dim']}, T {shape['seq']}, "
            f"B {shape['batch']}, V {shape['vocab']}", xent.training_step(name, cfg["steps"]), p)
    if "read" in only:
        read_table(cfg["ce"], xent, peer)
    with open("/proc/loadavg") as f:
        print(f"\n# load average at the end {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()
