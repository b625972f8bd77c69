using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Xent.Training.Model;

/// <summary>Row kernels of LayerNorm and the bias passes at a given <see cref="VectorWidth"/>.</summary>
internal static class RowOps
{
    /// <summary>Returns (sum_i x[i], sum_i x[i] (y[i] - shift)) over x.Length elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float Sum, float Dot) SumAndDot(ReadOnlySpan<float> x, ReadOnlySpan<float> y, float shift, VectorWidth width)
    {
        int n = x.Length, i = 0;
        float sum = 0, dot = 0;
        if (width == VectorWidth.V512 && n >= 16)
        {
            Vector512<float> s = default, d = default;
            for (; i + 16 <= n; i += 16)
            {
                var xv = Vector512.Create(x.Slice(i, 16));
                s += xv;
                d += xv * (Vector512.Create(y.Slice(i, 16)) - Vector512.Create(shift));
            }

            sum = Vector512.Sum(s);
            dot = Vector512.Sum(d);
        }
        else if (width >= VectorWidth.V256 && n >= 8)
        {
            Vector256<float> s = default, d = default;
            for (; i + 8 <= n; i += 8)
            {
                var xv = Vector256.Create(x.Slice(i, 8));
                s += xv;
                d += xv * (Vector256.Create(y.Slice(i, 8)) - Vector256.Create(shift));
            }

            sum = Vector256.Sum(s);
            dot = Vector256.Sum(d);
        }
        else if (width >= VectorWidth.V128 && n >= 4)
        {
            Vector128<float> s = default, d = default;
            for (; i + 4 <= n; i += 4)
            {
                var xv = Vector128.Create(x.Slice(i, 4));
                s += xv;
                d += xv * (Vector128.Create(y.Slice(i, 4)) - Vector128.Create(shift));
            }

            sum = Vector128.Sum(s);
            dot = Vector128.Sum(d);
        }

        for (; i < n; i++)
        {
            sum += x[i];
            dot += x[i] * (y[i] - shift);
        }

        return (sum, dot);
    }

    /// <summary>Returns sum_i (x[i] - shift)^2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumOfSquares(ReadOnlySpan<float> x, float shift, VectorWidth width)
    {
        int n = x.Length, i = 0;
        float sum = 0;
        if (width == VectorWidth.V512 && n >= 16)
        {
            Vector512<float> s = default, m = Vector512.Create(shift);
            for (; i + 16 <= n; i += 16)
            {
                var c = Vector512.Create(x.Slice(i, 16)) - m;
                s += c * c;
            }

            sum = Vector512.Sum(s);
        }
        else if (width >= VectorWidth.V256 && n >= 8)
        {
            Vector256<float> s = default, m = Vector256.Create(shift);
            for (; i + 8 <= n; i += 8)
            {
                var c = Vector256.Create(x.Slice(i, 8)) - m;
                s += c * c;
            }

            sum = Vector256.Sum(s);
        }
        else if (width >= VectorWidth.V128 && n >= 4)
        {
            Vector128<float> s = default, m = Vector128.Create(shift);
            for (; i + 4 <= n; i += 4)
            {
                var c = Vector128.Create(x.Slice(i, 4)) - m;
                s += c * c;
            }

            sum = Vector128.Sum(s);
        }

        for (; i < n; i++)
        {
            float c = x[i] - shift;
            sum += c * c;
        }

        return sum;
    }

    /// <summary>o[i] = (x[i] - mean) * rstd * w[i] + b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Normalize(ReadOnlySpan<float> x, float mean, float rstd, ReadOnlySpan<float> w, ReadOnlySpan<float> b,
        Span<float> o, VectorWidth width)
    {
        int n = x.Length, i = 0;
        if (width == VectorWidth.V512)
        {
            for (; i + 16 <= n; i += 16)
            {
                var xhat = (Vector512.Create(x.Slice(i, 16)) - Vector512.Create(mean)) * Vector512.Create(rstd);
                ((xhat * Vector512.Create(w.Slice(i, 16))) + Vector512.Create(b.Slice(i, 16))).CopyTo(o.Slice(i, 16));
            }
        }

        if (width >= VectorWidth.V256)
        {
            for (; i + 8 <= n; i += 8)
            {
                var xhat = (Vector256.Create(x.Slice(i, 8)) - Vector256.Create(mean)) * Vector256.Create(rstd);
                ((xhat * Vector256.Create(w.Slice(i, 8))) + Vector256.Create(b.Slice(i, 8))).CopyTo(o.Slice(i, 8));
            }
        }

        if (width >= VectorWidth.V128)
        {
            for (; i + 4 <= n; i += 4)
            {
                var xhat = (Vector128.Create(x.Slice(i, 4)) - Vector128.Create(mean)) * Vector128.Create(rstd);
                ((xhat * Vector128.Create(w.Slice(i, 4))) + Vector128.Create(b.Slice(i, 4))).CopyTo(o.Slice(i, 4));
            }
        }

        for (; i < n; i++)
        {
            o[i] = ((x[i] - mean) * rstd * w[i]) + b[i];
        }
    }

    /// <summary>y[i] = x[i] * w[i] (element-wise product).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y, VectorWidth width)
    {
        int n = x.Length, i = 0;
        if (width == VectorWidth.V512)
        {
            for (; i + 16 <= n; i += 16)
            {
                (Vector512.Create(x.Slice(i, 16)) * Vector512.Create(w.Slice(i, 16))).CopyTo(y.Slice(i, 16));
            }
        }

        if (width >= VectorWidth.V256)
        {
            for (; i + 8 <= n; i += 8)
            {
                (Vector256.Create(x.Slice(i, 8)) * Vector256.Create(w.Slice(i, 8))).CopyTo(y.Slice(i, 8));
            }
        }

        if (width >= VectorWidth.V128)
        {
            for (; i + 4 <= n; i += 4)
            {
                (Vector128.Create(x.Slice(i, 4)) * Vector128.Create(w.Slice(i, 4))).CopyTo(y.Slice(i, 4));
            }
        }

        for (; i < n; i++)
        {
            y[i] = x[i] * w[i];
        }
    }

    /// <summary>dx[i] += (g[i] - a - xhat[i] c) rstd with xhat[i] = (x[i] - mean) rstd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LayerNormInputGradient(ReadOnlySpan<float> g, ReadOnlySpan<float> x, float mean, float rstd, float a, float c,
        Span<float> dx, VectorWidth width)
    {
        int n = x.Length, i = 0;
        if (width == VectorWidth.V512)
        {
            for (; i + 16 <= n; i += 16)
            {
                var xhat = (Vector512.Create(x.Slice(i, 16)) - Vector512.Create(mean)) * Vector512.Create(rstd);
                var d = (Vector512.Create(g.Slice(i, 16)) - Vector512.Create(a) - (xhat * Vector512.Create(c))) * Vector512.Create(rstd);
                (Vector512.Create(dx.Slice(i, 16)) + d).CopyTo(dx.Slice(i, 16));
            }
        }

        if (width >= VectorWidth.V256)
        {
            for (; i + 8 <= n; i += 8)
            {
                var xhat = (Vector256.Create(x.Slice(i, 8)) - Vector256.Create(mean)) * Vector256.Create(rstd);
                var d = (Vector256.Create(g.Slice(i, 8)) - Vector256.Create(a) - (xhat * Vector256.Create(c))) * Vector256.Create(rstd);
                (Vector256.Create(dx.Slice(i, 8)) + d).CopyTo(dx.Slice(i, 8));
            }
        }

        if (width >= VectorWidth.V128)
        {
            for (; i + 4 <= n; i += 4)
            {
                var xhat = (Vector128.Create(x.Slice(i, 4)) - Vector128.Create(mean)) * Vector128.Create(rstd);
                var d = (Vector128.Create(g.Slice(i, 4)) - Vector128.Create(a) - (xhat * Vector128.Create(c))) * Vector128.Create(rstd);
                (Vector128.Create(dx.Slice(i, 4)) + d).CopyTo(dx.Slice(i, 4));
            }
        }

        for (; i < n; i++)
        {
            float xhat = (x[i] - mean) * rstd;
            dx[i] += (g[i] - a - (xhat * c)) * rstd;
        }
    }

    /// <summary>dw[i] += dy[i] (x[i] - mean) rstd; db[i] += dy[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LayerNormParameterGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, float mean, float rstd,
        Span<float> dw, Span<float> db, VectorWidth width)
    {
        int n = x.Length, i = 0;
        if (width == VectorWidth.V512)
        {
            for (; i + 16 <= n; i += 16)
            {
                var d = Vector512.Create(dy.Slice(i, 16));
                var xhat = (Vector512.Create(x.Slice(i, 16)) - Vector512.Create(mean)) * Vector512.Create(rstd);
                (Vector512.Create(dw.Slice(i, 16)) + (d * xhat)).CopyTo(dw.Slice(i, 16));
                (Vector512.Create(db.Slice(i, 16)) + d).CopyTo(db.Slice(i, 16));
            }
        }

        if (width >= VectorWidth.V256)
        {
            for (; i + 8 <= n; i += 8)
            {
                var d = Vector256.Create(dy.Slice(i, 8));
                var xhat = (Vector256.Create(x.Slice(i, 8)) - Vector256.Create(mean)) * Vector256.Create(rstd);
                (Vector256.Create(dw.Slice(i, 8)) + (d * xhat)).CopyTo(dw.Slice(i, 8));
                (Vector256.Create(db.Slice(i, 8)) + d).CopyTo(db.Slice(i, 8));
            }
        }

        if (width >= VectorWidth.V128)
        {
            for (; i + 4 <= n; i += 4)
            {
                var d = Vector128.Create(dy.Slice(i, 4));
                var xhat = (Vector128.Create(x.Slice(i, 4)) - Vector128.Create(mean)) * Vector128.Create(rstd);
                (Vector128.Create(dw.Slice(i, 4)) + (d * xhat)).CopyTo(dw.Slice(i, 4));
                (Vector128.Create(db.Slice(i, 4)) + d).CopyTo(db.Slice(i, 4));
            }
        }

        for (; i < n; i++)
        {
            float xhat = (x[i] - mean) * rstd;
            dw[i] += dy[i] * xhat;
            db[i] += dy[i];
        }
    }
}
