using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// Row kernels of LayerNorm (statistics, normalisation, gradients), each written once as an
/// <see cref="IRowLoop"/> and run at a given <see cref="VectorWidth"/>; the reductions at the widest width one
/// vector of the row fits (<see cref="Widths.Fit"/>). Every span has x.Length elements at least.
/// </summary>
internal static class RowOps
{
    /// <summary>Returns (sum_i x[i], sum_i x[i] (y[i] - shift)) over x.Length elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float Sum, float Dot) SumAndDot(ReadOnlySpan<float> x, ReadOnlySpan<float> y, float shift, VectorWidth width)
    {
        Check(x.Length, y.Length);
        var loop = new SumAndDotLoop(x, y, shift);
        RowLoop.Run(ref loop, Widths.Fit(width, x.Length));
        return (loop.Sum, loop.Dot);
    }

    /// <summary>Returns sum_i (x[i] - shift)^2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumOfSquares(ReadOnlySpan<float> x, float shift, VectorWidth width)
    {
        var loop = new SumOfSquaresLoop(x, shift);
        RowLoop.Run(ref loop, Widths.Fit(width, x.Length));
        return loop.Sum;
    }

    /// <summary>o[i] = (x[i] - mean) * rstd * w[i] + b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Normalize(ReadOnlySpan<float> x, float mean, float rstd, ReadOnlySpan<float> w, ReadOnlySpan<float> b,
        Span<float> o, VectorWidth width)
    {
        Check(x.Length, w.Length, b.Length, o.Length);
        var loop = new NormalizeLoop(x, mean, rstd, w, b, o);
        RowLoop.Run(ref loop, width);
    }

    /// <summary>y[i] = x[i] * w[i] (element-wise product).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y, VectorWidth width)
    {
        Check(x.Length, w.Length, y.Length);
        var loop = new MultiplyLoop(x, w, y);
        RowLoop.Run(ref loop, width);
    }

    /// <summary>dx[i] += (g[i] - a - xhat[i] c) rstd with xhat[i] = (x[i] - mean) rstd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LayerNormInputGradient(ReadOnlySpan<float> g, ReadOnlySpan<float> x, float mean, float rstd, float a, float c,
        Span<float> dx, VectorWidth width)
    {
        Check(x.Length, g.Length, dx.Length);
        var loop = new InputGradientLoop(g, x, mean, rstd, a, c, dx);
        RowLoop.Run(ref loop, width);
    }

    /// <summary>
    /// Over <paramref name="count"/> rows r of dy and x (row stride <paramref name="stride"/>), in row order:
    /// dw[i] += dy[r, i] (x[r, i] - mean[r]) rstd[r] and db[i] += dy[r, i], each output vector summed in a register
    /// from its value in dw and db (the same additions, in the same order, as adding row after row into dw and db)
    /// and stored once.
    /// </summary>
    public static void AddLayerNormParameterTerms(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, int count, int stride,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dw, Span<float> db, VectorWidth width)
    {
        Check(dw.Length, db.Length);
        Check(count, mean.Length, rstd.Length);
        long need = count == 0 ? 0 : ((long)(count - 1) * stride) + dw.Length;
        if (dy.Length < need || x.Length < need)
        {
            throw new ArgumentException($"{count} rows of stride {stride} and width {dw.Length} need {need} elements.");
        }

        var loop = new ParameterGradientLoop(dy, x, count, stride, mean, rstd, dw, db);
        RowLoop.Run(ref loop, width);
    }

    // The loops read without bounds checks: every span must be as long as x.
    private static void Check(int n, params ReadOnlySpan<int> lengths)
    {
        foreach (int length in lengths)
        {
            if (length < n)
            {
                throw new ArgumentException($"A row span has {length} elements, fewer than the {n} of x.");
            }
        }
    }

    // xhat = (x - mean) rstd, the normalised input.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Normalized<TOps, TV>(ref float x0, int i, TV mean, TV rstd)
        where TOps : IVectorOps<TV>
        where TV : struct =>
        TOps.Multiply(TOps.Subtract(TOps.Load(ref x0, i), mean), rstd);

    private ref struct SumAndDotLoop(ReadOnlySpan<float> x, ReadOnlySpan<float> y, float shift) : IRowLoop
    {
        private readonly ReadOnlySpan<float> x = x;
        private readonly ReadOnlySpan<float> y = y;

        public float Sum { get; private set; }

        public float Dot { get; private set; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float x0 = ref MemoryMarshal.GetReference(x);
            ref float y0 = ref MemoryMarshal.GetReference(y);
            TV s = TOps.Create(0f), d = TOps.Create(0f), m = TOps.Create(shift);
            int i = start;
            for (; i + TOps.Count <= x.Length; i += TOps.Count)
            {
                TV xv = TOps.Load(ref x0, i);
                s = TOps.Add(s, xv);
                d = TOps.Add(d, TOps.Multiply(xv, TOps.Subtract(TOps.Load(ref y0, i), m)));
            }

            Sum += TOps.Sum(s);
            Dot += TOps.Sum(d);
            return i;
        }
    }

    private ref struct SumOfSquaresLoop(ReadOnlySpan<float> x, float shift) : IRowLoop
    {
        private readonly ReadOnlySpan<float> x = x;

        public float Sum { get; private set; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float x0 = ref MemoryMarshal.GetReference(x);
            TV s = TOps.Create(0f), m = TOps.Create(shift);
            int i = start;
            for (; i + TOps.Count <= x.Length; i += TOps.Count)
            {
                TV c = TOps.Subtract(TOps.Load(ref x0, i), m);
                s = TOps.Add(s, TOps.Multiply(c, c));
            }

            Sum += TOps.Sum(s);
            return i;
        }
    }

    private ref struct NormalizeLoop(ReadOnlySpan<float> x, float mean, float rstd, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> o)
        : IRowLoop
    {
        private readonly ReadOnlySpan<float> x = x;
        private readonly ReadOnlySpan<float> w = w;
        private readonly ReadOnlySpan<float> b = b;
        private readonly Span<float> o = o;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float x0 = ref MemoryMarshal.GetReference(x);
            ref float w0 = ref MemoryMarshal.GetReference(w);
            ref float b0 = ref MemoryMarshal.GetReference(b);
            ref float o0 = ref MemoryMarshal.GetReference(o);
            TV m = TOps.Create(mean), r = TOps.Create(rstd);
            int i = start;
            for (; i + TOps.Count <= x.Length; i += TOps.Count)
            {
                TV xhat = Normalized<TOps, TV>(ref x0, i, m, r);
                TOps.Store(TOps.Add(TOps.Multiply(xhat, TOps.Load(ref w0, i)), TOps.Load(ref b0, i)), ref o0, i);
            }

            return i;
        }
    }

    private ref struct MultiplyLoop(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y) : IRowLoop
    {
        private readonly ReadOnlySpan<float> x = x;
        private readonly ReadOnlySpan<float> w = w;
        private readonly Span<float> y = y;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float x0 = ref MemoryMarshal.GetReference(x);
            ref float w0 = ref MemoryMarshal.GetReference(w);
            ref float y0 = ref MemoryMarshal.GetReference(y);
            int i = start;
            for (; i + TOps.Count <= x.Length; i += TOps.Count)
            {
                TOps.Store(TOps.Multiply(TOps.Load(ref x0, i), TOps.Load(ref w0, i)), ref y0, i);
            }

            return i;
        }
    }

    private ref struct InputGradientLoop(ReadOnlySpan<float> g, ReadOnlySpan<float> x, float mean, float rstd, float a, float c, Span<float> dx)
        : IRowLoop
    {
        private readonly ReadOnlySpan<float> g = g;
        private readonly ReadOnlySpan<float> x = x;
        private readonly Span<float> dx = dx;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float g0 = ref MemoryMarshal.GetReference(g);
            ref float x0 = ref MemoryMarshal.GetReference(x);
            ref float d0 = ref MemoryMarshal.GetReference(dx);
            TV m = TOps.Create(mean), r = TOps.Create(rstd), av = TOps.Create(a), cv = TOps.Create(c);
            int i = start;
            for (; i + TOps.Count <= x.Length; i += TOps.Count)
            {
                TV xhat = Normalized<TOps, TV>(ref x0, i, m, r);
                TV d = TOps.Multiply(TOps.Subtract(TOps.Subtract(TOps.Load(ref g0, i), av), TOps.Multiply(xhat, cv)), r);
                TOps.Store(TOps.Add(TOps.Load(ref d0, i), d), ref d0, i);
            }

            return i;
        }
    }

    private ref struct ParameterGradientLoop(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, int count, int stride,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dw, Span<float> db) : IRowLoop
    {
        private readonly ReadOnlySpan<float> dy = dy;
        private readonly ReadOnlySpan<float> x = x;
        private readonly ReadOnlySpan<float> mean = mean;
        private readonly ReadOnlySpan<float> rstd = rstd;
        private readonly Span<float> dw = dw;
        private readonly Span<float> db = db;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float dy0 = ref MemoryMarshal.GetReference(dy);
            ref float x0 = ref MemoryMarshal.GetReference(x);
            ref float dw0 = ref MemoryMarshal.GetReference(dw);
            ref float db0 = ref MemoryMarshal.GetReference(db);
            int i = start, k = TOps.Count;

            // Four column vectors at a time: eight independent sums share each row's mean and rstd (one column
            // vector alone is a chain of adds down all the rows).
            for (; i + (4 * k) <= dw.Length; i += 4 * k)
            {
                TV w0 = TOps.Load(ref dw0, i), w1 = TOps.Load(ref dw0, i + k), w2 = TOps.Load(ref dw0, i + (2 * k)), w3 = TOps.Load(ref dw0, i + (3 * k));
                TV b0 = TOps.Load(ref db0, i), b1 = TOps.Load(ref db0, i + k), b2 = TOps.Load(ref db0, i + (2 * k)), b3 = TOps.Load(ref db0, i + (3 * k));

                for (int r = 0; r < count; r++)
                {
                    int at = (r * stride) + i;
                    TV m = TOps.Create(mean[r]), s = TOps.Create(rstd[r]);
                    TV d0 = TOps.Load(ref dy0, at), d1 = TOps.Load(ref dy0, at + k), d2 = TOps.Load(ref dy0, at + (2 * k)), d3 = TOps.Load(ref dy0, at + (3 * k));
                    w0 = TOps.Add(w0, TOps.Multiply(d0, Normalized<TOps, TV>(ref x0, at, m, s)));
                    w1 = TOps.Add(w1, TOps.Multiply(d1, Normalized<TOps, TV>(ref x0, at + k, m, s)));
                    w2 = TOps.Add(w2, TOps.Multiply(d2, Normalized<TOps, TV>(ref x0, at + (2 * k), m, s)));
                    w3 = TOps.Add(w3, TOps.Multiply(d3, Normalized<TOps, TV>(ref x0, at + (3 * k), m, s)));
                    b0 = TOps.Add(b0, d0);
                    b1 = TOps.Add(b1, d1);
                    b2 = TOps.Add(b2, d2);
                    b3 = TOps.Add(b3, d3);
                }

                TOps.Store(w0, ref dw0, i);
                TOps.Store(w1, ref dw0, i + k);
                TOps.Store(w2, ref dw0, i + (2 * k));
                TOps.Store(w3, ref dw0, i + (3 * k));
                TOps.Store(b0, ref db0, i);
                TOps.Store(b1, ref db0, i + k);
                TOps.Store(b2, ref db0, i + (2 * k));
                TOps.Store(b3, ref db0, i + (3 * k));
            }

            for (; i + k <= dw.Length; i += k)
            {
                TV w = TOps.Load(ref dw0, i), b = TOps.Load(ref db0, i);
                for (int r = 0; r < count; r++)
                {
                    TV d = TOps.Load(ref dy0, (r * stride) + i);
                    TV xhat = Normalized<TOps, TV>(ref x0, (r * stride) + i, TOps.Create(mean[r]), TOps.Create(rstd[r]));
                    w = TOps.Add(w, TOps.Multiply(d, xhat));
                    b = TOps.Add(b, d);
                }

                TOps.Store(w, ref dw0, i);
                TOps.Store(b, ref db0, i);
            }

            return i;
        }
    }
}
