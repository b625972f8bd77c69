using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// LayerNorm's row work four rows at a time. A row of D = 64 is a chain of dependent steps (sum, its lanes' total,
/// the mean, the centred squares, their total, the square root, the normalisation) about a hundred cycles long with
/// little to do beside it: row by row, the default model's LayerNorm took ~40 ns a row on one Zen 5 core with its
/// data in L1. Interleaved, the four chains overlap. Each row still gets exactly the operations of
/// <see cref="RowOps"/>' row-by-row path (<see cref="LayerNorm"/>'s fallback), in the same order, so the bits are
/// the same; tests/Xent.Tests/Layers/LayerNormTests.cs compares the two bit for bit.
/// </summary>
/// <remarks>
/// Taken only where D is a whole number of vectors of the width (the rows then have no scalar tail) and, in the
/// backward, the input gradient is not the input itself; rows, D and widths elsewhere go row by row.
/// </remarks>
internal static unsafe class LayerNormRows
{
    /// <summary>Rows per call.</summary>
    public const int Rows = 4;

    /// <summary>The vector width the four-row kernels run at for rows of <paramref name="dim"/>, or Scalar: row by row.</summary>
    public static VectorWidth For(VectorWidth width, int dim)
    {
        var fit = Widths.Fit(width, dim);
        return fit != width || fit == VectorWidth.Scalar || dim % ((int)fit / 32) != 0 ? VectorWidth.Scalar : fit;
    }

    /// <summary>
    /// The forward of rows x [4, D] (row stride D): mean [4], rstd [4] and output o [4, D] (o may be x itself).
    /// </summary>
    public static void Forward(VectorWidth width, float* x, float* o, float* w, float* b, int dim, float* mean, float* rstd)
    {
        switch (width)
        {
            case VectorWidth.V512:
                Forward<Vector512Ops, Vector512<float>>(x, o, w, b, dim, mean, rstd);
                break;
            case VectorWidth.V256:
                Forward<Vector256Ops, Vector256<float>>(x, o, w, b, dim, mean, rstd);
                break;
            default:
                Forward<Vector128Ops, Vector128<float>>(x, o, w, b, dim, mean, rstd);
                break;
        }
    }

    /// <summary>
    /// The input gradient of rows [4, D] (see <see cref="LayerNorm.Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, int)"/>):
    /// dx [4, D] += the gradient, each row first cleared when <paramref name="clear"/>; g [4, D] is scratch.
    /// </summary>
    public static void InputGradient(VectorWidth width, float* dout, float* x, float* w, float* mean, float* rstd, float* dx,
        float* g, int dim, bool clear)
    {
        switch (width)
        {
            case VectorWidth.V512:
                InputGradient<Vector512Ops, Vector512<float>>(dout, x, w, mean, rstd, dx, g, dim, clear);
                break;
            case VectorWidth.V256:
                InputGradient<Vector256Ops, Vector256<float>>(dout, x, w, mean, rstd, dx, g, dim, clear);
                break;
            default:
                InputGradient<Vector128Ops, Vector128<float>>(dout, x, w, mean, rstd, dx, g, dim, clear);
                break;
        }
    }

    /// <summary>
    /// The parameter gradients' terms of rows [4, D], added in row order to the running sums dw [D] and db [D]: each
    /// element gets exactly RowOps.AddLayerNormParameterTerms' operations (dw + dout (x - mean) rstd, db + dout), so
    /// the sums' bits are those of that loop over the same rows.
    /// </summary>
    public static void AddParameterTerms(VectorWidth width, float* dout, float* x, float* mean, float* rstd, float* dw, float* db, int dim)
    {
        switch (width)
        {
            case VectorWidth.V512:
                AddParameterTerms<Vector512Ops, Vector512<float>>(dout, x, mean, rstd, dw, db, dim);
                break;
            case VectorWidth.V256:
                AddParameterTerms<Vector256Ops, Vector256<float>>(dout, x, mean, rstd, dw, db, dim);
                break;
            default:
                AddParameterTerms<Vector128Ops, Vector128<float>>(dout, x, mean, rstd, dw, db, dim);
                break;
        }
    }

    // Straight to optimised code, as the kernels.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void AddParameterTerms<TOps, TV>(float* dout, float* x, float* mean, float* rstd, float* dw, float* db, int dim)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV m0 = TOps.Create(mean[0]), m1 = TOps.Create(mean[1]), m2 = TOps.Create(mean[2]), m3 = TOps.Create(mean[3]);
        TV s0 = TOps.Create(rstd[0]), s1 = TOps.Create(rstd[1]), s2 = TOps.Create(rstd[2]), s3 = TOps.Create(rstd[3]);
        float* x1 = x + dim, x2 = x1 + dim, x3 = x2 + dim, d1 = dout + dim, d2 = d1 + dim, d3 = d2 + dim;
        for (int i = 0; i < dim; i += TOps.Count)
        {
            TV e0 = Load<TOps, TV>(dout, i), e1 = Load<TOps, TV>(d1, i), e2 = Load<TOps, TV>(d2, i), e3 = Load<TOps, TV>(d3, i);
            TV w = Load<TOps, TV>(dw, i);
            w = TOps.Add(w, TOps.Multiply(e0, TOps.Multiply(TOps.Subtract(Load<TOps, TV>(x, i), m0), s0)));
            w = TOps.Add(w, TOps.Multiply(e1, TOps.Multiply(TOps.Subtract(Load<TOps, TV>(x1, i), m1), s1)));
            w = TOps.Add(w, TOps.Multiply(e2, TOps.Multiply(TOps.Subtract(Load<TOps, TV>(x2, i), m2), s2)));
            w = TOps.Add(w, TOps.Multiply(e3, TOps.Multiply(TOps.Subtract(Load<TOps, TV>(x3, i), m3), s3)));
            TOps.Store(w, ref *dw, i);
            TOps.Store(TOps.Add(TOps.Add(TOps.Add(TOps.Add(Load<TOps, TV>(db, i), e0), e1), e2), e3), ref *db, i);
        }
    }

    // A row reduction's result as RowOps leaves it: 0 plus the vector loop's lanes, plus the (empty) scalar tail's 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Total(float lanes)
    {
        float sum = 0f;
        sum += lanes;
        sum += 0f;
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Load<TOps, TV>(float* p, int i)
        where TOps : IVectorOps<TV>
        where TV : struct => TOps.Load(ref *p, i);

    // Straight to optimised code, as the kernels.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Forward<TOps, TV>(float* x, float* o, float* w, float* b, int dim, float* mean, float* rstd)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        int k = TOps.Count;
        float* x1 = x + dim, x2 = x1 + dim, x3 = x2 + dim;
        TV s0 = TOps.Create(0f), s1 = s0, s2 = s0, s3 = s0;
        for (int i = 0; i < dim; i += k)
        {
            s0 = TOps.Add(s0, Load<TOps, TV>(x, i));
            s1 = TOps.Add(s1, Load<TOps, TV>(x1, i));
            s2 = TOps.Add(s2, Load<TOps, TV>(x2, i));
            s3 = TOps.Add(s3, Load<TOps, TV>(x3, i));
        }

        float m0 = Total(TOps.Sum(s0)) / dim, m1 = Total(TOps.Sum(s1)) / dim, m2 = Total(TOps.Sum(s2)) / dim, m3 = Total(TOps.Sum(s3)) / dim;
        TV c0 = TOps.Create(m0), c1 = TOps.Create(m1), c2 = TOps.Create(m2), c3 = TOps.Create(m3);
        TV q0 = TOps.Create(0f), q1 = q0, q2 = q0, q3 = q0;
        for (int i = 0; i < dim; i += k)
        {
            TV d0 = TOps.Subtract(Load<TOps, TV>(x, i), c0), d1 = TOps.Subtract(Load<TOps, TV>(x1, i), c1);
            TV d2 = TOps.Subtract(Load<TOps, TV>(x2, i), c2), d3 = TOps.Subtract(Load<TOps, TV>(x3, i), c3);
            q0 = TOps.Add(q0, TOps.Multiply(d0, d0));
            q1 = TOps.Add(q1, TOps.Multiply(d1, d1));
            q2 = TOps.Add(q2, TOps.Multiply(d2, d2));
            q3 = TOps.Add(q3, TOps.Multiply(d3, d3));
        }

        float r0 = 1 / MathF.Sqrt((Total(TOps.Sum(q0)) / dim) + LayerNorm.Epsilon), r1 = 1 / MathF.Sqrt((Total(TOps.Sum(q1)) / dim) + LayerNorm.Epsilon);
        float r2 = 1 / MathF.Sqrt((Total(TOps.Sum(q2)) / dim) + LayerNorm.Epsilon), r3 = 1 / MathF.Sqrt((Total(TOps.Sum(q3)) / dim) + LayerNorm.Epsilon);
        mean[0] = m0;
        mean[1] = m1;
        mean[2] = m2;
        mean[3] = m3;
        rstd[0] = r0;
        rstd[1] = r1;
        rstd[2] = r2;
        rstd[3] = r3;
        Normalize<TOps, TV>(x, o, w, b, dim, c0, TOps.Create(r0));
        Normalize<TOps, TV>(x1, o + dim, w, b, dim, c1, TOps.Create(r1));
        Normalize<TOps, TV>(x2, o + (2 * dim), w, b, dim, c2, TOps.Create(r2));
        Normalize<TOps, TV>(x3, o + (3 * dim), w, b, dim, c3, TOps.Create(r3));
    }

    // o = (x - mean) rstd w + b, as RowOps.Normalize.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Normalize<TOps, TV>(float* x, float* o, float* w, float* b, int dim, TV mean, TV rstd)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        for (int i = 0; i < dim; i += TOps.Count)
        {
            TV xhat = TOps.Multiply(TOps.Subtract(Load<TOps, TV>(x, i), mean), rstd);
            TOps.Store(TOps.Add(TOps.Multiply(xhat, Load<TOps, TV>(w, i)), Load<TOps, TV>(b, i)), ref *o, i);
        }
    }

    // Straight to optimised code, as the kernels.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void InputGradient<TOps, TV>(float* dout, float* x, float* w, float* mean, float* rstd, float* dx, float* g,
        int dim, bool clear)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        int k = TOps.Count;

        // Row by row, as RowOps: the row cleared, then g = dout w (dx may be dout itself).
        for (int r = 0; r < Rows; r++)
        {
            float* dxr = dx + (r * dim), doutr = dout + (r * dim), gr = g + (r * dim);
            if (clear)
            {
                new Span<float>(dxr, dim).Clear();
            }

            for (int i = 0; i < dim; i += k)
            {
                TOps.Store(TOps.Multiply(Load<TOps, TV>(doutr, i), Load<TOps, TV>(w, i)), ref *gr, i);
            }
        }

        float* x1 = x + dim, x2 = x1 + dim, x3 = x2 + dim, g1 = g + dim, g2 = g1 + dim, g3 = g2 + dim;
        TV c0 = TOps.Create(mean[0]), c1 = TOps.Create(mean[1]), c2 = TOps.Create(mean[2]), c3 = TOps.Create(mean[3]);
        TV s0 = TOps.Create(0f), s1 = s0, s2 = s0, s3 = s0, d0 = s0, d1 = s0, d2 = s0, d3 = s0;
        for (int i = 0; i < dim; i += k)
        {
            TV v0 = Load<TOps, TV>(g, i), v1 = Load<TOps, TV>(g1, i), v2 = Load<TOps, TV>(g2, i), v3 = Load<TOps, TV>(g3, i);
            s0 = TOps.Add(s0, v0);
            s1 = TOps.Add(s1, v1);
            s2 = TOps.Add(s2, v2);
            s3 = TOps.Add(s3, v3);
            d0 = TOps.Add(d0, TOps.Multiply(v0, TOps.Subtract(Load<TOps, TV>(x, i), c0)));
            d1 = TOps.Add(d1, TOps.Multiply(v1, TOps.Subtract(Load<TOps, TV>(x1, i), c1)));
            d2 = TOps.Add(d2, TOps.Multiply(v2, TOps.Subtract(Load<TOps, TV>(x2, i), c2)));
            d3 = TOps.Add(d3, TOps.Multiply(v3, TOps.Subtract(Load<TOps, TV>(x3, i), c3)));
        }

        RowInputGradient<TOps, TV>(g, x, dx, dim, c0, rstd[0], Total(TOps.Sum(s0)), Total(TOps.Sum(d0)));
        RowInputGradient<TOps, TV>(g1, x1, dx + dim, dim, c1, rstd[1], Total(TOps.Sum(s1)), Total(TOps.Sum(d1)));
        RowInputGradient<TOps, TV>(g2, x2, dx + (2 * dim), dim, c2, rstd[2], Total(TOps.Sum(s2)), Total(TOps.Sum(d2)));
        RowInputGradient<TOps, TV>(g3, x3, dx + (3 * dim), dim, c3, rstd[3], Total(TOps.Sum(s3)), Total(TOps.Sum(d3)));
    }

    // dx += ((g - a) - xhat c) rstd with a = sum / D and c = dot rstd / D, as RowOps.LayerNormInputGradient.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowInputGradient<TOps, TV>(float* g, float* x, float* dx, int dim, TV mean, float rstd, float sum, float dot)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV r = TOps.Create(rstd), av = TOps.Create(sum / dim), cv = TOps.Create(dot * rstd / dim);
        for (int i = 0; i < dim; i += TOps.Count)
        {
            TV xhat = TOps.Multiply(TOps.Subtract(Load<TOps, TV>(x, i), mean), r);
            TV d = TOps.Multiply(TOps.Subtract(TOps.Subtract(Load<TOps, TV>(g, i), av), TOps.Multiply(xhat, cv)), r);
            TOps.Store(TOps.Add(Load<TOps, TV>(dx, i), d), ref *dx, i);
        }
    }
}
