#!/usr/bin/python3
"""Smoothed 5-gram character (byte) models, the "few lines of Python" a user would write, scored on exactly the
validation bytes `xent train --text FILE` holds out. Standard library only (Debian's /usr/bin/python3).

Usage: ngram5.py FILE [--split auto|bytes|bpe] [--seq 128] [--order 5] [--write-val PATH] [--json]

The split (src/Xent.Training/Data/TokenDataset.cs):
  bytes (texts under 100 000 bytes, the default run's tokenizer there): the last max(T + 1, floor(0.1 N)) bytes;
  bpe (100 000 bytes and more): the text after the first white space at or past 90% of its characters, or
  after 90% itself when no white space follows (.NET's char.IsWhiteSpace; the text is read as UTF-8 with a leading byte-order mark dropped).
Each validation byte is predicted from the validation bytes before it (up to order - 1), as `xent eval --text VAL`
predicts each token from the tokens before it in VAL; --write-val writes VAL, so that
`xent eval --checkpoint DIR --text VAL` scores the network on the same bytes (eval leaves out the first token's
bytes: a few bytes of 6 000 to 40 000).

The models, all over the 256 byte values, fitted on the training split:
  add-1, add-k  Lidstone: (c(h w) + k) / (c(h) + 256 k) at the full order; k tuned on held-out data;
  JM            Jelinek-Mercer: p_n = l p_ML,n + (1 - l) p_n-1 (p_ML,n = p_n-1 when h is unseen), l tuned;
  JM-fixed      the same with equal weights over the orders 0..n that saw the context (no tuning);
  WB            Witten-Bell interpolated: (c(h w) + N1+(h .) p_n-1) / (c(h) + N1+(h .));
  AD            absolute discounting interpolated, D_n = n1 / (n1 + 2 n2) per order (at least 0.1);
  KN            interpolated Kneser-Ney: AD with continuation counts N1+(. h w) below the full order.
Tuned values are chosen on the last 10% of the training split (fitted on the first 90%), then refitted on all of it.
Numbers are nats per byte (bits per byte = nats / ln 2).
"""
import argparse
import json
import math
import unicodedata
from collections import defaultdict

V = 256
BPE_MIN_BYTES = 100_000
VAL_FRACTION = 0.1


def dotnet_space(c):
    # .NET char.IsWhiteSpace: Zs, Zl, Zp, U+0009-U+000D, U+0085, U+00A0 (not Python's U+001C-U+001F).
    return c in '\t\n\x0b\x0c\r\x85\xa0' or unicodedata.category(c) in ('Zs', 'Zl', 'Zp')


def split(raw, mode, seq):
    if raw.startswith(b'\xef\xbb\xbf'):
        raw = raw[3:]
    if mode == 'auto':
        mode = 'bpe' if len(raw) + 0 >= BPE_MIN_BYTES else 'bytes'
    if mode == 'bytes':
        n_val = max(seq + 1, int(len(raw) * VAL_FRACTION))
        return mode, raw[:-n_val], raw[-n_val:]
    text = raw.decode('utf-8')
    # .NET strings count UTF-16 code units; the same as code points for text without characters past U+FFFF.
    if any(ord(c) > 0xFFFF for c in text):
        raise SystemExit('the text has characters past U+FFFF: the character cut would differ from .NET\'s')
    at = min(len(text), int(len(text) * (1 - VAL_FRACTION)))
    last = at + (len(text) - at) // 2
    cut = at
    while cut <= last and cut < len(text) and not dotnet_space(text[cut]):
        cut += 1
    if (cut > last or cut == len(text)) and 0 < at < len(text):
        cut = at  # no white space in the first half of the last tenth: at 90% itself
    return mode, text[:cut].encode('utf-8'), text[cut:].encode('utf-8')


class Counts:
    """Counts of every n-gram up to `order`, with the continuation counts Kneser-Ney needs."""

    def __init__(self, data, order):
        self.order = order
        self.c = [defaultdict(int) for _ in range(order + 1)]      # c[n][gram of n bytes]
        for n in range(1, order + 1):
            cn = self.c[n]
            for i in range(len(data) - n + 1):
                cn[data[i:i + n]] += 1
        self.c[0][b''] = len(data)
        self.ctx = [None] * (order + 1)    # ctx[n][h]: (c(h .), N1+(h .)) for |h| = n - 1, from c[n]
        self.cc = [None] * (order + 1)     # cc[n][g]: N1+(. g) for |g| = n (continuation counts)
        self.ccctx = [None] * (order + 1)  # ccctx[n][h]: (sum_w N1+(. h w), N1+(h .)) for |h| = n - 1
        for n in range(1, order + 1):
            ctx = defaultdict(lambda: [0, 0])
            for g, k in self.c[n].items():
                e = ctx[g[:-1]]
                e[0] += k
                e[1] += 1
            self.ctx[n] = ctx
        for n in range(1, order):
            cc = defaultdict(int)
            for g in self.c[n + 1]:
                cc[g[1:]] += 1
            self.cc[n] = cc
            ccctx = defaultdict(lambda: [0, 0])
            for g, k in cc.items():
                e = ccctx[g[:-1]]
                e[0] += k
                e[1] += 1
            self.ccctx[n] = ccctx

    def discounts(self, kn):
        ds = [0.0] * (self.order + 1)
        for n in range(1, self.order + 1):
            table = self.cc[n] if kn and n < self.order else self.c[n]
            n1 = sum(1 for k in table.values() if k == 1)
            n2 = sum(1 for k in table.values() if k == 2)
            ds[n] = max(0.1, n1 / (n1 + 2 * n2)) if n1 + n2 > 0 else 0.5  # never 0: unseen bytes need mass
        return ds


def prob(model, cnt, h, w, params):
    """P(w | h) in the named model, h of up to order - 1 bytes."""
    order = cnt.order
    if model == 'add-k':
        h = h[-(order - 1):] if order > 1 else b''
        ch = cnt.ctx[order].get(h, (0, 0))[0] if len(h) == order - 1 else 0
        return (cnt.c[order].get(h + bytes([w]), 0) + params['k']) / (ch + V * params['k'])
    p = 1.0 / V
    byte = bytes([w])
    for n in range(1, order + 1):
        if len(h) < n - 1:
            break
        hn = h[len(h) - (n - 1):] if n > 1 else b''
        if model == 'KN' and n < order:
            e = cnt.ccctx[n].get(hn)
            c_hw = cnt.cc[n].get(hn + byte, 0)
        else:
            e = cnt.ctx[n].get(hn)
            c_hw = cnt.c[n].get(hn + byte, 0)
        if e is None:
            continue  # unseen context: the lower order's estimate stands
        c_h, types = e
        if model == 'JM':
            p = params['l'] * c_hw / c_h + (1 - params['l']) * p
        elif model == 'JM-fixed':
            p = (c_hw / c_h + (n) * p) / (n + 1)  # equal weights over orders 0..n: the uniform and 1..n
        elif model == 'WB':
            p = (c_hw + types * p) / (c_h + types)
        else:  # AD, KN
            d = params['d'][n]
            p = max(c_hw - d, 0) / c_h + d * types / c_h * p
    return p


def score(model, cnt, data, params):
    order = cnt.order
    total = 0.0
    for i in range(len(data)):
        total -= math.log(prob(model, cnt, data[max(0, i - order + 1):i], data[i], params))
    return total / len(data)


def fit_and_score(model, train, val, order):
    params = {}
    if model in ('add-k', 'JM'):
        held = int(len(train) * 0.9)
        cnt = Counts(train[:held], order)
        name, grid = ('k', [1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001]) if model == 'add-k' else \
            ('l', [0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
        best = min(grid, key=lambda x: score(model, cnt, train[held:], {name: x}))
        params[name] = best
    cnt = Counts(train, order)
    if model in ('AD', 'KN'):
        params['d'] = cnt.discounts(model == 'KN')
    return score(model, cnt, val, params), params


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('file')
    ap.add_argument('--split', choices=['auto', 'bytes', 'bpe'], default='auto')
    ap.add_argument('--seq', type=int, default=128)
    ap.add_argument('--order', type=int, default=5)
    ap.add_argument('--write-val')
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args()
    with open(a.file, 'rb') as f:
        raw = f.read()
    mode, train, val = split(raw, a.split, a.seq)
    if a.write_val:
        with open(a.write_val, 'wb') as f:
            f.write(val)
    results = {}
    runs = [('add-1', 'add-k', {'k': 1.0}), ('add-k', 'add-k', None), ('JM-fixed', 'JM-fixed', {}),
            ('JM', 'JM', None), ('WB', 'WB', {}), ('AD', 'AD', None), ('KN', 'KN', None)]
    cnt = None
    for label, model, fixed in runs:
        if fixed is not None:
            cnt = cnt or Counts(train, a.order)
            nats, params = score(model, cnt, val, fixed), fixed
        else:
            nats, params = fit_and_score(model, train, val, a.order)
        shown = {k: (round(v, 4) if isinstance(v, float) else [round(x, 3) for x in v[1:]]) for k, v in params.items()}
        results[label] = {'nats_per_byte': nats, 'bits_per_byte': nats / math.log(2), 'params': shown}
    out = {'file': a.file, 'split': mode, 'train_bytes': len(train), 'val_bytes': len(val), 'order': a.order,
           'models': results}
    if a.json:
        print(json.dumps(out, indent=1))
        return
    print(f"{a.file}: split {mode}, {len(train)} training and {len(val)} validation bytes, order {a.order}")
    for label, r in results.items():
        print(f"  {label:9s} {r['nats_per_byte']:.4f} nats/byte  {r['bits_per_byte']:.4f} bits/byte  {r['params'] or ''}")


if __name__ == '__main__':
    main()
