#!/usr/bin/python3
"""A semantics sweep: `xent loss` against PyTorch's F.cross_entropy in float64 on many small random cases.

Where accuracy.py measures the rounding error of a dozen realistic cases, this looks for wrong numbers: it draws
a few hundred small cases (N in {0, 1, 3, 17}, C in {1, 2, 3, 7, 50, 1000}) that mix every option of `xent loss`
at random: reduction none / sum / mean; the ignore index (-100, another negative one, one inside [0, C), one
above C) with no, some or every row ignored; label smoothing 0, 0.1, 0.5, 1; class weights (some of them 0);
float32, float16 and bfloat16 logits; logits x 1000; -inf logits (a masked vocabulary, a target whose logit is
-inf); z-loss and a soft cap (Xent's extensions, built in torch by hand from docs/spec/cross-entropy.md); and
targets that PyTorch refuses (out of range). The yardstick is PyTorch in float64 on the same values; gradients
by autograd of the reduced loss (reduction none: backward of ones, as `xent loss --grad` defines it).

Each case must agree on: error or no error; the printed loss and every per-row loss (--losses), NaN and inf
included, within 1e-5 relative (plus an absolute slack of a few float32 ulps of the logits' magnitude); the
gradient within 1e-5 of its largest element (1e-3 for float16's float16 gradient), its NaNs and infs at the same
places. Prints one line per disagreement and a count; exits 1 if any.

Run with Debian's interpreter, which has python3-torch: /usr/bin/python3 bench/compare/parity.py [--cases 200] [--seed 1]
See bench/compare/README.md.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from xentcli import CLI, ROOT, build, save_bfloat16, to_bfloat16


def draw(rng, index):
    """One random case: a dict of its inputs and options."""
    pick = lambda values, p=None: values[rng.choice(len(values), p=p)]  # noqa: E731
    n = int(pick([0, 1, 3, 17], [0.1, 0.2, 0.3, 0.4]))
    c = int(pick([1, 2, 3, 7, 50, 1000]))
    case = {"index": index, "n": n, "c": c, "reduction": pick(["none", "sum", "mean"]),
            "dtype": pick(["float32", "float16", "bfloat16"], [0.6, 0.2, 0.2]),
            "label_smoothing": float(pick([0.0, 0.1, 0.5, 1.0], [0.4, 0.2, 0.2, 0.2])),
            "z_loss": float(pick([0.0, 1e-4, 0.1], [0.7, 0.15, 0.15])),
            "soft_cap": float(pick([0.0, 5.0, 30.0], [0.75, 0.125, 0.125])),
            "ignore_index": int(pick([-100, -1, int(rng.integers(0, c)), c + 5], [0.45, 0.15, 0.25, 0.15]))}
    scale = pick(["normal", "x1000", "uniform"], [0.6, 0.2, 0.2])
    x = rng.standard_normal(size=(n, c)) * (2.0 if scale == "normal" else 1000.0 if scale == "x1000" else 0.1)
    case["scale"] = scale
    y = rng.integers(0, c, size=n)
    ignored = pick(["none", "some", "all"], [0.5, 0.3, 0.2])
    case["ignored"] = ignored
    if ignored == "some":
        y[rng.random(size=n) < 0.4] = case["ignore_index"]
    elif ignored == "all":
        y[:] = case["ignore_index"]
    special = pick(["none", "masked", "target -inf", "row -inf", "bad target"], [0.55, 0.2, 0.12, 0.05, 0.08])
    case["special"] = special
    kept = np.flatnonzero(y != case["ignore_index"])
    if special == "masked":  # half the logits -inf, never a kept row's target
        mask = rng.random(size=(n, c)) < 0.5
        mask[kept, y[kept]] = False
        x[mask] = -np.inf
    elif special == "target -inf" and kept.size:
        x[kept[0], y[kept[0]]] = -np.inf
    elif special == "row -inf" and kept.size:
        x[kept[0], :] = -np.inf
    elif special == "bad target" and n:
        y[int(rng.integers(0, n))] = pick([c, -2, c + 100]) if case["ignore_index"] not in (c, -2, c + 100) else c + 1
    weights = pick(["none", "uniform", "zeros"], [0.5, 0.35, 0.15])
    case["weights_kind"] = weights
    if weights != "none":
        w = rng.uniform(0.5, 1.5, size=c)
        if weights == "zeros":
            w[rng.random(size=c) < 0.3] = 0.0
        case["weights"] = w.astype(np.float32)
    x = x.astype(np.float32)
    if case["dtype"] == "float16":
        x = x.astype(np.float16).astype(np.float32)
    elif case["dtype"] == "bfloat16":
        x = to_bfloat16(x)
    case["logits"], case["targets"] = x, y.astype(np.int64)
    return case


def reference(torch, case, dtype):
    """(loss, rows, grad) by PyTorch in dtype (float64: the yardstick; float32: its own rounding), or its error."""
    import torch.nn.functional as F

    z = torch.tensor(case["logits"]).to(dtype).requires_grad_(True)
    y = torch.tensor(case["targets"])
    s, l, ii = case["soft_cap"], case["z_loss"], case["ignore_index"]
    capped = s * torch.tanh(z / s) if s > 0 else z
    w = torch.tensor(case["weights"]).to(dtype) if "weights" in case else None
    kw = dict(weight=w, ignore_index=ii, label_smoothing=case["label_smoothing"])
    try:
        loss = F.cross_entropy(capped, y, reduction=case["reduction"], **kw)
        rows = F.cross_entropy(capped, y, reduction="none", **kw)
    except (RuntimeError, IndexError) as e:
        return str(e).splitlines()[0]
    if l > 0:  # the spec's z-loss: l lse^2 per kept row; mean divides by the kept rows
        keep = y != ii
        zrows = torch.where(keep, l * torch.logsumexp(capped, dim=1) ** 2, torch.zeros((), dtype=dtype))
        rows = rows + zrows
        if case["reduction"] == "none":
            loss = loss + zrows
        elif case["reduction"] == "sum":
            loss = loss + zrows.sum()
        else:
            loss = loss + zrows.sum() / keep.sum()
    if s > 0:
        capped.retain_grad()
    if case["reduction"] == "none":
        loss.backward(torch.ones_like(loss))
    else:
        loss.backward()
    grad = z.grad if z.grad is not None else torch.zeros_like(z)
    if s > 0 and dtype == torch.float64:  # dL/dz, the gradient before the soft cap's factor 1 - (z / s)^2
        case["capped_grad"] = (capped.grad if capped.grad is not None else torch.zeros_like(z)).double().numpy()
    return loss.detach().double().numpy(), rows.detach().double().numpy(), grad.double().numpy()


def run_xent(folder, case):
    """(loss, rows, grad) by `xent loss`, or its error line."""
    d = os.path.join(folder, str(case["index"]))
    os.makedirs(d)
    x = case["logits"]
    if case["dtype"] == "bfloat16":
        logits = os.path.join(d, "logits.safetensors")
        save_bfloat16(logits, x)
    else:
        logits = os.path.join(d, "logits.npy")
        np.save(logits, x.astype(np.float16) if case["dtype"] == "float16" else x)
    np.save(os.path.join(d, "targets.npy"), case["targets"] if case["index"] % 2 else case["targets"].astype(np.int32))
    args = ["dotnet", CLI, "loss", "--logits", logits, "--targets", os.path.join(d, "targets.npy"),
            "--reduction", case["reduction"], f"--ignore-index={case['ignore_index']}",
            "--label-smoothing", repr(case["label_smoothing"]), "--z-loss", repr(case["z_loss"]),
            "--soft-cap", repr(case["soft_cap"]), "--threads", "1",
            "--grad", os.path.join(d, "grad.npy"), "--losses", os.path.join(d, "losses.npy"), "--json"]
    if "weights" in case:
        np.save(os.path.join(d, "weights.npy"), case["weights"])
        args += ["--weights", os.path.join(d, "weights.npy")]
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        return f"exit {result.returncode}: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ''}"
    loss = json.loads(result.stdout)["loss"]
    loss = np.array([float(v) for v in loss]) if isinstance(loss, list) else np.array(float(loss))
    rows = np.load(os.path.join(d, "losses.npy")).astype(np.float64)
    grad = np.load(os.path.join(d, "grad.npy")).astype(np.float64)
    return loss, rows, grad


def close(a, b, slack):
    """Element-wise: NaN with NaN, the same inf, else within 1e-5 relative plus slack."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return np.zeros(max(a.size, b.size), dtype=bool)
    same = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    finite = np.isfinite(a) & np.isfinite(b)
    with np.errstate(invalid="ignore"):
        near = finite & (np.abs(a - b) <= 1e-5 * np.abs(b) + slack)
    return same | near


def fmt(v):
    v = np.asarray(v).ravel()
    return np.array2string(v[:6], precision=7, separator=", ") + (" ..." if v.size > 6 else "")


def spread(a, b):
    """The largest difference of a and b where both are finite (0 if nowhere)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    return float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0


def kept_weight(case):
    """The sum of the kept targets' weights."""
    y = case["targets"][case["targets"] != case["ignore_index"]]
    return float(np.sum(case["weights"][y])) if "weights" in case else float(y.size)


def compare(case, ref, ref32, got, notes):
    """A list of problems (strings); empty when Xent agrees with PyTorch. Xent may be off by as much as 4x PyTorch's
    own float32 (on the same float32 values) is: that is rounding, not semantics."""
    if isinstance(ref, str) or isinstance(got, str):
        if isinstance(ref, str) and isinstance(got, str):
            notes["a target out of range: both refuse it"] += 1
            return []
        return [f"error disagreement: PyTorch {'raised: ' + ref if isinstance(ref, str) else 'computed'}; "
                f"Xent {got if isinstance(got, str) else 'computed'}"]
    problems = []
    (rl, rr, rg), (xl, xr, xg) = ref, got
    x = case["logits"]
    finite = x[np.isfinite(x)]
    magnitude = min(float(np.max(np.abs(finite))) if finite.size else 0.0, case["soft_cap"] or np.inf)
    row_slack = 4e-7 * (1.0 + magnitude) * (1.0 + 10 * case["z_loss"] * (1.0 + magnitude))
    loss_slack = row_slack * max(1, case["n"])
    if not isinstance(ref32, str):
        row_slack = max(row_slack, 4 * spread(ref32[1], rr))
        loss_slack = max(loss_slack, 4 * spread(ref32[0], rl))
    if (case["reduction"] == "mean" and case["label_smoothing"] > 0 and "weights" in case and np.isnan(rl)
            and np.isposinf(xl) and kept_weight(case) == 0):
        # Every kept target weighs 0: PyTorch divides its two parts by 0 apart, (1 - e) 0 / 0 + e (a > 0) / 0 = NaN;
        # the spec divides their sum, (0 + a) / 0 = +inf. Counted, not flagged.
        notes["mean, smoothing, every kept target weighing 0: PyTorch's loss NaN, Xent's +inf (spec)"] += 1
    elif not close(xl, rl, loss_slack).all():
        problems.append(f"loss: PyTorch {fmt(rl)}, Xent {fmt(xl)}")
    ignored = case["targets"] == case["ignore_index"]
    rr = np.where(ignored, 0.0, rr)  # --losses writes 0 for ignored rows, as PyTorch's none
    bad = ~close(xr, rr, row_slack)
    if bad.any():
        i = np.flatnonzero(bad)
        problems.append(f"rows {fmt(i)}: PyTorch {fmt(np.asarray(rr)[i])}, Xent {fmt(np.asarray(xr)[i])}")
    if xg.shape != rg.shape:
        problems.append(f"gradient shape: PyTorch {rg.shape}, Xent {xg.shape}")
        return problems
    # The spec: an ignored row's gradient is 0. PyTorch's is NaN where such a row's logits are all -inf (0 times
    # the NaN softmax of the row): a deliberate difference, counted, not flagged.
    if np.isnan(rg[ignored]).any():
        notes["ignored row all -inf: PyTorch's gradient NaN there, Xent's 0 (spec)"] += 1
    rg = np.where(ignored[:, None], 0.0, rg)
    fin = np.isfinite(rg)
    scale = float(np.max(np.abs(rg[fin]))) if fin.any() else 0.0
    tol = (1e-3 if case["dtype"] == "float16" else 1e-5) * scale + 1e-30
    if not isinstance(ref32, str):
        tol = max(tol, 4 * spread(ref32[2], rg))
    if "capped_grad" in case:
        # The spec's factor 1 - (z / s)^2 from a float32 z is off by a few 2^-24 wherever |x| >> s, where the factor
        # itself is that small: an absolute error, times dL/dz.
        tol = tol + 1e-6 * np.nan_to_num(np.abs(case["capped_grad"]), nan=0.0, posinf=0.0)
    bad = ~((np.isnan(rg) & np.isnan(xg)) | (np.isinf(rg) & (rg == xg)) | (fin & np.isfinite(xg) & (np.abs(xg - rg) <= tol)))
    if bad.any():
        i = np.argwhere(bad)
        worst = tuple(i[np.argmax(np.nan_to_num(np.abs(xg - rg)[bad], nan=np.inf))])
        problems.append(f"gradient: {len(i)} of {rg.size} elements differ, e.g. at {worst}: PyTorch {rg[worst]:.8g}, "
                        f"Xent {xg[worst]:.8g} (largest {scale:.3g}, PyTorch float32 off by up to "
                        f"{spread(ref32[2], rg) if not isinstance(ref32, str) else float('nan'):.3g})")
    return problems


def describe(case):
    keys = ["n", "c", "reduction", "dtype", "ignore_index", "ignored", "label_smoothing", "weights_kind", "z_loss",
            "soft_cap", "scale", "special"]
    return ", ".join(f"{k}={case[k]}" for k in keys)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="xent processes at a time (default 2)")
    parser.add_argument("--no-build", action="store_true", help="use the built xent as it is")
    parser.add_argument("--keep", help="save every case's files under this folder")
    a = parser.parse_args()
    import torch

    build(a.no_build)
    rng = np.random.default_rng(a.seed)
    cases = [draw(rng, i) for i in range(a.cases)]
    failures = 0
    notes = collections.Counter()
    with tempfile.TemporaryDirectory() as temporary:
        folder = a.keep or temporary
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
            runs = [pool.submit(run_xent, folder, case) for case in cases]
            for case, run in zip(cases, runs):
                problems = compare(case, reference(torch, case, torch.float64), reference(torch, case, torch.float32),
                                   run.result(), notes)
                if problems:
                    failures += 1
                    print(f"case {case['index']}: {describe(case)}")
                    for p in problems:
                        print(f"    {p}")
    for note, count in notes.items():
        print(f"note: {note}: {count} cases")
    print(f"{a.cases - failures} of {a.cases} cases agree with PyTorch {torch.__version__} (float64), seed {a.seed}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
