using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// Kernels over float spans for the attention and the dense layers (axpy, max, exp-and-sum, scale, row times
/// matrix, weighted row sum), each written once as an <see cref="IRowLoop"/> and run at a given
/// <see cref="VectorWidth"/>. Element-wise results do not depend on the width: the products' sums (row times matrix,
/// weighted row sum) take a fused multiply-add per term where every width, the scalar lanes included, has one in
/// hardware (<see cref="Simd.FusedMultiplyAddIsHardware"/>), and a product and a sum everywhere else; the
/// reductions run at the widest width one vector of the row fits (<see cref="Widths.Fit"/>).
/// </summary>
internal static class SpanMath
{
    /// <summary>y[i] += alpha x[i] over x.Length elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y, VectorWidth width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(y.Length, x.Length, nameof(y));
        var loop = new AxpyLoop(alpha, x, y);
        RowLoop.Run(ref loop, width);
    }

    /// <summary>max_i x[i] (-inf for an empty span). A NaN may or may not win; a softmax's sum is NaN either way.</summary>
    public static float Max(ReadOnlySpan<float> x, VectorWidth width)
    {
        var loop = new MaxLoop(x);
        RowLoop.Run(ref loop, Widths.Fit(width, x.Length));
        return loop.Max;
    }

    /// <summary>
    /// x[i] = exp(x[i] - shift) in place; returns the sum of the new values. Every element goes through the
    /// width's polynomial exp: the last, partial vector too, through a padded copy.
    /// </summary>
    public static float ExpSubtractAndSum(Span<float> x, float shift, VectorWidth width)
    {
        var loop = new ExpLoop(x, shift);
        RowLoop.Run(ref loop, width);
        return loop.Sum;
    }

    /// <summary>x[i] *= alpha.</summary>
    public static void Scale(float alpha, Span<float> x, VectorWidth width)
    {
        var loop = new ScaleLoop(alpha, x);
        RowLoop.Run(ref loop, width);
    }

    /// <summary>
    /// y[j] = alpha * sum_k x[k] m[k * ld + j] for j &lt; y.Length: a row vector x [K] times a matrix m [K, ld],
    /// each output vector accumulated in a register over k (x[k] broadcast).
    /// </summary>
    public static void RowTimesMatrix(float alpha, ReadOnlySpan<float> x, ReadOnlySpan<float> m, int ld, Span<float> y, VectorWidth width)
    {
        CheckStrided(x.Length, ld, y.Length, m.Length, nameof(m));
        var loop = new RowTimesMatrixLoop(alpha, x, m, ld, y);
        RowLoop.Run(ref loop, width);
    }

    /// <summary>Columns per tile of <see cref="RowTimesTiles"/>: two 512-bit vectors of floats, so that every width has two chains or more in a tile.</summary>
    public const int Tile = 32;

    /// <summary>
    /// <see cref="RowTimesMatrix"/> of a matrix m [K, N] stored in tiles of <see cref="Tile"/> columns, each tile
    /// [K, Tile] contiguous and the tiles one after another (tile b holds columns 32 b .. 32 b + 31, m[k, 32 b + c] at
    /// tiles[32 (b K + k) + c]): y[j] = alpha * sum_k x[k] m[k, j] for j &lt; y.Length, a multiple of 32, each lane the
    /// same chain as there (the same bits). One stream in address order where the row-major form reads K streams a
    /// row apart (a cached decoding step's scores over keys: 64 rows 4 KB apart at GPT-2 small's context of 1024).
    /// </summary>
    public static void RowTimesTiles(float alpha, ReadOnlySpan<float> x, ReadOnlySpan<float> tiles, Span<float> y, VectorWidth width)
    {
        if (y.Length % Tile != 0 || (long)y.Length * x.Length > tiles.Length)
        {
            throw new ArgumentException($"{y.Length / Tile} tiles of {x.Length} x {Tile} (y a multiple of {Tile} long) need more than {tiles.Length} elements.", nameof(tiles));
        }

        var loop = new RowTimesMatrixLoop(alpha, x, tiles, 0, y, Tile);
        RowLoop.Run(ref loop, width);
    }

    /// <summary>
    /// y[c] = sum_r w[r] rows[r * stride + c] for c &lt; y.Length (rows start at rows[0]): a weighted sum of
    /// w.Length strided rows, each output vector accumulated in a register over r. <see cref="RowTimesMatrix"/> with
    /// alpha 1, whose product by 1 changes no bit.
    /// </summary>
    public static void WeightedRowSum(ReadOnlySpan<float> w, ReadOnlySpan<float> rows, int stride, Span<float> y, VectorWidth width)
    {
        CheckStrided(w.Length, stride, y.Length, rows.Length, nameof(rows));
        var loop = new RowTimesMatrixLoop(1f, w, rows, stride, y);
        RowLoop.Run(ref loop, width);
    }

    /// <summary>
    /// y[c] = sum_r rows[r * stride + c] over <paramref name="count"/> rows, in row order, for c &lt; y.Length: each
    /// output vector accumulated in a register (the same additions, in the same order, as adding the rows into y).
    /// </summary>
    public static void ColumnSums(ReadOnlySpan<float> rows, int count, int stride, Span<float> y, VectorWidth width)
    {
        CheckStrided(count, stride, y.Length, rows.Length, nameof(rows));
        var loop = new ColumnSumsLoop(rows, count, stride, y);
        RowLoop.Run(ref loop, width);
    }

    /// <summary>
    /// x[i] = exp(x[i] - max_j x[j]) / sum_j exp(x[j] - max) in place, at one width: <see cref="Max"/>,
    /// <see cref="ExpSubtractAndSum"/> and <see cref="Scale"/>'s loops, each at the lanes of TOps and then the scalar
    /// lanes, with no width dispatch between them (the attention's row by row softmax). For x at least one vector of
    /// TOps long, the same bits as those three calls at that width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Softmax<TOps, TV>(Span<float> x)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        var max = new MaxLoop(x);
        RunAt<MaxLoop, TOps, TV>(ref max, x.Length);
        var exp = new ExpLoop(x, max.Max);
        RunAt<ExpLoop, TOps, TV>(ref exp, x.Length);
        var scale = new ScaleLoop(1 / exp.Sum, x);
        RunAt<ScaleLoop, TOps, TV>(ref scale, x.Length);
    }

    // A loop at the lanes of TOps, then the scalar lanes over what is left of n elements.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunAt<TLoop, TOps, TV>(ref TLoop loop, int n)
        where TLoop : IRowLoop, allows ref struct
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        int i = loop.Run<TOps, TV>(0);
        if (i < n)
        {
            loop.Run<ScalarOps, float>(i);
        }
    }

    // The loops read the strided matrix without bounds checks: its last row must hold y.Length elements.
    private static void CheckStrided(int count, int stride, int width, int length, string name)
    {
        if (count > 0 && width > 0 && ((long)(count - 1) * stride) + width > length)
        {
            throw new ArgumentException($"{count} rows of stride {stride} and width {width} need more than {length} elements.", name);
        }
    }

    private ref struct AxpyLoop(float alpha, ReadOnlySpan<float> x, Span<float> y) : IRowLoop
    {
        private readonly ReadOnlySpan<float> x = x;
        private readonly Span<float> y = y;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float x0 = ref MemoryMarshal.GetReference(x);
            ref float y0 = ref MemoryMarshal.GetReference(y);
            TV a = TOps.Create(alpha);
            int i = start;
            for (; i + TOps.Count <= x.Length; i += TOps.Count)
            {
                TOps.Store(TOps.Add(TOps.Load(ref y0, i), TOps.Multiply(a, TOps.Load(ref x0, i))), ref y0, i);
            }

            return i;
        }
    }

    private ref struct MaxLoop(ReadOnlySpan<float> x) : IRowLoop
    {
        private readonly ReadOnlySpan<float> x = x;

        public float Max { get; private set; } = float.NegativeInfinity;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            int i = start;
            if (i + TOps.Count > x.Length)
            {
                return i;
            }
            ref float x0 = ref MemoryMarshal.GetReference(x);
            TV acc = TOps.Create(float.NegativeInfinity);
            for (; i + TOps.Count <= x.Length; i += TOps.Count)
            {
                acc = TOps.Max(acc, TOps.Load(ref x0, i));
            }

            Max = MathF.Max(Max, TOps.MaxAcross(acc));
            return i;
        }
    }

    private ref struct ExpLoop(Span<float> x, float shift) : IRowLoop
    {
        private readonly Span<float> x = x;

        public float Sum { get; private set; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            int n = x.Length, i = start;
            if (i >= n)
            {
                return i;
            }
            ref float x0 = ref MemoryMarshal.GetReference(x);
            TV s = TOps.Create(shift);
            TV acc = TOps.Create(0f);
            for (; i + TOps.Count <= n; i += TOps.Count)
            {
                TV e = TOps.Exp(TOps.Subtract(TOps.Load(ref x0, i), s));
                TOps.Store(e, ref x0, i);
                acc = TOps.Add(acc, e);
            }

            if (i < n)
            {
                acc = TOps.Add(acc, Tail<TOps, TV>(x.Slice(i), s));
            }

            Sum = TOps.Sum(acc);
            return n;
        }

        // The last elements keep their lanes (element i in lane i mod Count, as in a longer row) in one vector padded
        // with -inf, whose exp is 0: the sum then has the same bits as that of a longer row whose extra elements are
        // -inf (the causal softmax's rows of any length, the KV-cache step's too). Out of line, as the kernels
        // (straight to optimised code): its stackalloc kept the whole loop from being inlined (a call a row).
        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
        private static TV Tail<TOps, TV>(Span<float> rest, TV shift)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            Span<float> padded = stackalloc float[TOps.Count];
            padded.Fill(float.NegativeInfinity);
            rest.CopyTo(padded);
            ref float p0 = ref MemoryMarshal.GetReference(padded);
            TV e = TOps.Exp(TOps.Subtract(TOps.Load(ref p0, 0), shift));
            TOps.Store(e, ref p0, 0);
            padded.Slice(0, rest.Length).CopyTo(rest);
            return e;
        }
    }

    private ref struct ScaleLoop(float alpha, Span<float> x) : IRowLoop
    {
        private readonly Span<float> x = x;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float x0 = ref MemoryMarshal.GetReference(x);
            TV a = TOps.Create(alpha);
            int i = start;
            for (; i + TOps.Count <= x.Length; i += TOps.Count)
            {
                TOps.Store(TOps.Multiply(TOps.Load(ref x0, i), a), ref x0, i);
            }

            return i;
        }
    }

    // y = alpha x m with m [K, N] stored row-major (tile 0: m[k, j] at k ld + j) or in tiles of `tile` columns
    // (RowTimesTiles: m[k, j] at tile ((j / tile) K + k) + j % tile); either way each lane is one chain over k in order.
    private ref struct RowTimesMatrixLoop(float alpha, ReadOnlySpan<float> x, ReadOnlySpan<float> m, int ld, Span<float> y, int tile = 0) : IRowLoop
    {
        private readonly ReadOnlySpan<float> x = x;
        private readonly ReadOnlySpan<float> m = m;
        private readonly Span<float> y = y;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float m0 = ref MemoryMarshal.GetReference(m);
            ref float y0 = ref MemoryMarshal.GetReference(y);
            int j = start, k = TOps.Count;
            nint stride = tile == 0 ? ld : tile;

            // Four output vectors at a time: four chains instead of one waiting on the multiply-add at every row, and
            // each row's 4 k floats read together (the weighted sum of a cached decoding step's value rows,
            // WeightedRowSum). Every lane's sum is the same chain in the same order as below. In tiles, each tile is
            // read on its own, in address order: four vectors of a tile at 256 bits and below, its two at 512. Four
            // vectors at 512 bits, two tiles side by side (two streams 8 KB apart at hs 64), took 1.08-1.11x the time
            // (decode-attention, GPT-2 small at positions 300 and 1000, Zen 4, interleaved), as tiles of 16 read four at
            // a time had taken 1.16-1.18x one at a time.
            bool fours = tile == 0 || 4 * k <= tile;
            for (; fours && j + (4 * k) <= y.Length; j += 4 * k)
            {
                nint c0 = Column(j), c1 = Column(j + k), c2 = Column(j + (2 * k)), c3 = Column(j + (3 * k));
                TV a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0;
                for (int p = 0; p < x.Length; p++)
                {
                    TV xp = TOps.Create(x[p]);
                    nint row = p * stride;
                    a0 = TOps.MultiplyAdd(xp, TOps.Load(ref m0, c0 + row), a0);
                    a1 = TOps.MultiplyAdd(xp, TOps.Load(ref m0, c1 + row), a1);
                    a2 = TOps.MultiplyAdd(xp, TOps.Load(ref m0, c2 + row), a2);
                    a3 = TOps.MultiplyAdd(xp, TOps.Load(ref m0, c3 + row), a3);
                }

                TV scale = TOps.Create(alpha);
                TOps.Store(TOps.Multiply(a0, scale), ref y0, j);
                TOps.Store(TOps.Multiply(a1, scale), ref y0, j + k);
                TOps.Store(TOps.Multiply(a2, scale), ref y0, j + (2 * k));
                TOps.Store(TOps.Multiply(a3, scale), ref y0, j + (3 * k));
            }

            for (; !fours && j + (2 * k) <= y.Length; j += 2 * k)
            {
                nint c0 = Column(j), c1 = Column(j + k);
                TV a0 = TOps.Create(0f), a1 = a0;
                for (int p = 0; p < x.Length; p++)
                {
                    TV xp = TOps.Create(x[p]);
                    nint row = p * stride;
                    a0 = TOps.MultiplyAdd(xp, TOps.Load(ref m0, c0 + row), a0);
                    a1 = TOps.MultiplyAdd(xp, TOps.Load(ref m0, c1 + row), a1);
                }

                TV scale = TOps.Create(alpha);
                TOps.Store(TOps.Multiply(a0, scale), ref y0, j);
                TOps.Store(TOps.Multiply(a1, scale), ref y0, j + k);
            }

            for (; j + k <= y.Length; j += k)
            {
                nint c = Column(j);
                TV acc = TOps.Create(0f);
                for (int p = 0; p < x.Length; p++)
                {
                    acc = TOps.MultiplyAdd(TOps.Create(x[p]), TOps.Load(ref m0, c + (p * stride)), acc);
                }

                TOps.Store(TOps.Multiply(acc, TOps.Create(alpha)), ref y0, j);
            }

            return j;
        }

        // Where column j's elements start: j itself row-major; in tiles, its tile's start plus j's place in it (vectors
        // never straddle tiles: a tile is a multiple of every width).
        private readonly nint Column(int j) => tile == 0 ? j : ((nint)(j / tile) * tile * x.Length) + (j % tile);
    }

    private ref struct ColumnSumsLoop(ReadOnlySpan<float> rows, int count, int stride, Span<float> y) : IRowLoop
    {
        private readonly ReadOnlySpan<float> rows = rows;
        private readonly Span<float> y = y;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TOps, TV>(int start)
            where TOps : IVectorOps<TV>
            where TV : struct
        {
            ref float r0 = ref MemoryMarshal.GetReference(rows);
            ref float y0 = ref MemoryMarshal.GetReference(y);
            int c = start;
            for (; c + TOps.Count <= y.Length; c += TOps.Count)
            {
                TV acc = TOps.Create(0f);
                for (int r = 0; r < count; r++)
                {
                    acc = TOps.Add(acc, TOps.Load(ref r0, (r * stride) + c));
                }

                TOps.Store(acc, ref y0, c);
            }

            return c;
        }
    }
}
