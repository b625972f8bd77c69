#!/usr/bin/python3
"""Side-by-side check of Xent's GPT-2 against PyTorch, from the same Hugging Face checkpoint and the same tokens.

The GPT-2 forward is written here with plain torch ops (LayerNorm eps 1e-5, gelu_new = the tanh GELU, causal
attention scaled by 1/sqrt(head size), Conv1D weights [in, out], tied or untied lm_head), reading model.safetensors
with plain Python (8-byte header length + JSON + raw bytes): no transformers package is needed. It runs in float64
and in float32 and compares with `xent eval --json` (loss over sliding windows) and `xent eval --logits-out`
(logits of the first window).

Without --checkpoint it first writes a random-weight checkpoint in the exact Hugging Face layout (2 layers, width
64, vocabulary 50257 by default; "transformer." prefix, attn.bias / attn.masked_bias buffers, Conv1D [in, out]).

  /usr/bin/python3 scripts/hf-gpt2-compare.py                       # build xent first: dotnet build src/Xent.Cli -c Release
  /usr/bin/python3 scripts/hf-gpt2-compare.py --make /tmp/gpt2-random --dtype BF16 --stride 32   # keep the made folder
  /usr/bin/python3 scripts/hf-gpt2-compare.py --checkpoint ~/gpt2 --tokens 2048 --stride 512   # a downloaded gpt2 folder

Exit code 0 when the losses agree within 1e-5 relative (float64) and 1e-4 (float32), 1 otherwise.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    """name -> float64 numpy array, from the format: u64 LE header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[begin:end]
        if entry["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            values = bits.view(np.float32)
        else:
            values = np.frombuffer(raw, dtype=np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<"))
        tensors[name] = values.astype(np.float64).reshape(entry["shape"])
    return tensors


def write_safetensors(path, tensors):
    """tensors: list of (name, numpy array of float32/float16, or ('BF16', float32 array))."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors:
        if isinstance(array, tuple):
            dtype, values = "BF16", (np.ascontiguousarray(array[1], dtype=np.float32).view(np.uint32) >> 16).astype("<u2")
        else:
            dtype = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}[array.dtype]
            values = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"))
        blob = values.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array[1].shape if isinstance(array, tuple) else array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def make_checkpoint(folder, vocab, layers, dim, heads, positions, dtype, seed, tied):
    """A random GPT-2 in the Hugging Face layout; biases and LayerNorm parameters random too, so each one matters."""
    rng = np.random.default_rng(seed)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": vocab, "n_positions": positions,
              "n_ctx": positions, "n_embd": dim, "n_layer": layers, "n_head": heads, "n_inner": None,
              "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05, "tie_word_embeddings": tied}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    def normal(*shape, std=0.02):
        return rng.normal(0, std, shape).astype(np.float32)

    def store(x):
        return ("BF16", x) if dtype == "BF16" else x.astype(np.float16 if dtype == "F16" else np.float32)

    t = [("transformer.wte.weight", store(normal(vocab, dim, std=0.3))), ("transformer.wpe.weight", store(normal(positions, dim, std=0.01)))]
    for l in range(layers):
        p = f"transformer.h.{l}."
        t += [(p + "ln_1.weight", store(1 + normal(dim, std=0.1))), (p + "ln_1.bias", store(normal(dim))),
              (p + "attn.bias", np.tril(np.ones((positions, positions), np.float32)).reshape(1, 1, positions, positions)),
              (p + "attn.masked_bias", np.array(-1e4, np.float32)),
              (p + "attn.c_attn.weight", store(normal(dim, 3 * dim, std=0.1))), (p + "attn.c_attn.bias", store(normal(3 * dim))),
              (p + "attn.c_proj.weight", store(normal(dim, dim))), (p + "attn.c_proj.bias", store(normal(dim))),
              (p + "ln_2.weight", store(1 + normal(dim, std=0.1))), (p + "ln_2.bias", store(normal(dim))),
              (p + "mlp.c_fc.weight", store(normal(dim, 4 * dim, std=0.1))), (p + "mlp.c_fc.bias", store(normal(4 * dim))),
              (p + "mlp.c_proj.weight", store(normal(4 * dim, dim))), (p + "mlp.c_proj.bias", store(normal(dim)))]
    t += [("transformer.ln_f.weight", store(1 + normal(dim, std=0.1))), ("transformer.ln_f.bias", store(normal(dim)))]
    if not tied:
        t.append(("lm_head.weight", store(normal(vocab, dim, std=0.1))))
    write_safetensors(os.path.join(folder, "model.safetensors"), t)


class Gpt2:
    """GPT-2's forward in plain torch ops, from Hugging Face tensors (Conv1D: y = x W + b with W [in, out])."""

    def __init__(self, folder, dtype):
        with open(os.path.join(folder, "config.json")) as f:
            self.config = json.load(f)
        raw = read_safetensors(os.path.join(folder, "model.safetensors"))
        self.w = {(k[len("transformer."):] if k.startswith("transformer.") else k): torch.tensor(v, dtype=dtype)
                  for k, v in raw.items()}
        self.eps = self.config.get("layer_norm_epsilon", 1e-5)
        tied = self.config.get("tie_word_embeddings", True)
        self.head = self.w["wte.weight"] if tied or "lm_head.weight" not in self.w else self.w["lm_head.weight"]

    def logits(self, tokens):
        """tokens [T] -> logits [T, V]."""
        w, t = self.w, len(tokens)
        heads = self.config["n_head"]
        x = w["wte.weight"][tokens] + w["wpe.weight"][:t]
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        for l in range(self.config["n_layer"]):
            p = f"h.{l}."
            h = torch.nn.functional.layer_norm(x, x.shape[-1:], w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
            q, k, v = (h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]).split(x.shape[-1], dim=-1)
            q, k, v = (z.reshape(t, heads, -1).transpose(0, 1) for z in (q, k, v))
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
            att = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(0, 1).reshape(t, -1)
            x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            h = torch.nn.functional.layer_norm(x, x.shape[-1:], w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps)
            u = h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
            gelu = 0.5 * u * (1 + torch.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))
            x = x + gelu @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        x = torch.nn.functional.layer_norm(x, x.shape[-1:], w["ln_f.weight"], w["ln_f.bias"], self.eps)
        return x @ self.head.T

    def strided_loss(self, tokens, window, stride):
        """Hugging Face's perplexity recipe: windows every `stride` tokens, each scoring only the new targets."""
        total, scored, last = 0.0, 0, len(tokens) - 1
        begin = 0
        while True:
            length = min(window, last - begin)
            fresh = begin + length - scored
            logits = self.logits(torch.tensor(tokens[begin:begin + length]))
            targets = torch.tensor(tokens[begin + 1:begin + length + 1])
            losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
            total += float(losses[length - fresh:].sum())
            scored = begin + length
            if scored == last:
                return total / last
            begin += stride


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", help="a Hugging Face GPT-2 folder; default: make a random one")
    ap.add_argument("--make", metavar="DIR", help="write the random checkpoint into DIR (kept) instead of a temporary folder")
    ap.add_argument("--xent", default="dotnet src/Xent.Cli/bin/Release/net10.0/Xent.Cli.dll", help="how to run xent")
    ap.add_argument("--tokens", type=int, default=300, help="random token ids to score")
    ap.add_argument("--window", type=int, default=None, help="tokens per window (default: n_positions)")
    ap.add_argument("--stride", type=int, default=None, help="window start every S tokens (default: the window)")
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--positions", type=int, default=128)
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32", help="storage type of the made checkpoint")
    ap.add_argument("--untied", action="store_true", help="the made checkpoint has its own lm_head")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="xent-hf-compare-")
    folder = args.checkpoint
    if folder is None:
        folder = args.make or os.path.join(work, "checkpoint")
        os.makedirs(folder, exist_ok=True)
        make_checkpoint(folder, args.vocab, args.layers, args.dim, args.heads, args.positions, args.dtype, args.seed, not args.untied)
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    window = args.window or config.get("n_positions", config.get("n_ctx"))
    stride = args.stride or window
    tokens = np.random.default_rng(args.seed + 1).integers(0, config["vocab_size"], args.tokens).astype(np.int64)
    tokens_path, logits_path = os.path.join(work, "tokens.npy"), os.path.join(work, "logits.npy")
    np.save(tokens_path, tokens)

    command = args.xent.split() + ["eval", "--checkpoint", folder, "--tokens", tokens_path, "--window", str(window),
                                   "--stride", str(stride), "--logits-out", logits_path, "--json"]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"xent eval failed ({run.returncode}): {run.stderr.strip()}")
    xent = json.loads(run.stdout)
    xent_loss = xent["cross_entropy"]
    xent_logits = np.load(logits_path).astype(np.float64)

    print(f"checkpoint {folder}: {config['n_layer']} layers, n_embd {config['n_embd']}, vocab {config['vocab_size']}; "
          f"{len(tokens)} tokens, window {window}, stride {stride}")
    print(f"xent (float32)     loss {xent_loss:.10f}")
    ok = True
    for dtype, tolerance in ((torch.float64, 1e-5), (torch.float32, 1e-4)):
        model = Gpt2(folder, dtype)
        with torch.no_grad():
            loss = model.strided_loss(tokens.tolist(), window, stride)
            logits = model.logits(torch.tensor(tokens[:xent_logits.shape[0]].tolist())).double().numpy()
        relative = abs(xent_loss - loss) / abs(loss)
        logit_error = np.abs(xent_logits - logits).max() / np.abs(logits).max()
        passed = relative <= tolerance
        ok &= passed
        name = str(dtype).replace("torch.", "")
        print(f"pytorch ({name})  loss {loss:.10f}  relative difference {relative:.2e} (limit {tolerance:.0e}) "
              f"{'ok' if passed else 'FAIL'}; logits of the first window: max |difference| / max |logit| {logit_error:.2e}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
