using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Training.Model;

/// <summary>Short-vector kernels of the attention (axpy, max, exp-and-sum, scale) at a given <see cref="VectorWidth"/>.</summary>
internal static class VectorOps
{
    /// <summary>y[i] += alpha x[i] over x.Length elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y, VectorWidth width)
    {
        int n = x.Length, i = 0;
        if (width == VectorWidth.V512)
        {
            var a = Vector512.Create(alpha);
            for (; i + 16 <= n; i += 16)
            {
                (Vector512.Create(y.Slice(i, 16)) + (a * Vector512.Create(x.Slice(i, 16)))).CopyTo(y.Slice(i, 16));
            }
        }

        if (width >= VectorWidth.V256)
        {
            var a = Vector256.Create(alpha);
            for (; i + 8 <= n; i += 8)
            {
                (Vector256.Create(y.Slice(i, 8)) + (a * Vector256.Create(x.Slice(i, 8)))).CopyTo(y.Slice(i, 8));
            }
        }

        if (width >= VectorWidth.V128)
        {
            var a = Vector128.Create(alpha);
            for (; i + 4 <= n; i += 4)
            {
                (Vector128.Create(y.Slice(i, 4)) + (a * Vector128.Create(x.Slice(i, 4)))).CopyTo(y.Slice(i, 4));
            }
        }

        for (; i < n; i++)
        {
            y[i] += alpha * x[i];
        }
    }

    /// <summary>max_i x[i] (-inf for an empty span; NaN propagates).</summary>
    public static float Max(ReadOnlySpan<float> x, VectorWidth width)
    {
        int n = x.Length, i = 0;
        float max = float.NegativeInfinity;
        if (width == VectorWidth.V512 && n >= 16)
        {
            var acc = Vector512.Create(float.NegativeInfinity);
            for (; i + 16 <= n; i += 16)
            {
                acc = Vector512.Max(acc, Vector512.Create(x.Slice(i, 16)));
            }

            for (int j = 0; j < 16; j++)
            {
                max = MathF.Max(max, acc[j]);
            }
        }
        else if (width >= VectorWidth.V256 && n >= 8)
        {
            var acc = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= n; i += 8)
            {
                acc = Vector256.Max(acc, Vector256.Create(x.Slice(i, 8)));
            }

            for (int j = 0; j < 8; j++)
            {
                max = MathF.Max(max, acc[j]);
            }
        }
        else if (width >= VectorWidth.V128 && n >= 4)
        {
            var acc = Vector128.Create(float.NegativeInfinity);
            for (; i + 4 <= n; i += 4)
            {
                acc = Vector128.Max(acc, Vector128.Create(x.Slice(i, 4)));
            }

            for (int j = 0; j < 4; j++)
            {
                max = MathF.Max(max, acc[j]);
            }
        }

        for (; i < n; i++)
        {
            max = MathF.Max(max, x[i]);
        }

        return max;
    }

    /// <summary>x[i] = exp(x[i] - shift) in place; returns the sum of the new values.</summary>
    public static float ExpSubtractAndSum(Span<float> x, float shift, VectorWidth width)
    {
        int n = x.Length, i = 0;
        float sum = 0;
        if (width == VectorWidth.V512 && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            var s = Vector512.Create(shift);
            for (; i + 16 <= n; i += 16)
            {
                var e = Vector512Ops.Exp(Vector512.Create(x.Slice(i, 16)) - s);
                e.CopyTo(x.Slice(i, 16));
                acc += e;
            }

            sum = Vector512.Sum(acc);
        }
        else if (width >= VectorWidth.V256 && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            var s = Vector256.Create(shift);
            for (; i + 8 <= n; i += 8)
            {
                var e = Vector256Ops.Exp(Vector256.Create(x.Slice(i, 8)) - s);
                e.CopyTo(x.Slice(i, 8));
                acc += e;
            }

            sum = Vector256.Sum(acc);
        }
        else if (width >= VectorWidth.V128 && n >= 4)
        {
            var acc = Vector128<float>.Zero;
            var s = Vector128.Create(shift);
            for (; i + 4 <= n; i += 4)
            {
                var e = Vector128Ops.Exp(Vector128.Create(x.Slice(i, 4)) - s);
                e.CopyTo(x.Slice(i, 4));
                acc += e;
            }

            sum = Vector128.Sum(acc);
        }

        for (; i < n; i++)
        {
            float e = MathF.Exp(x[i] - shift);
            x[i] = e;
            sum += e;
        }

        return sum;
    }

    /// <summary>x[i] *= alpha.</summary>
    public static void Scale(float alpha, Span<float> x, VectorWidth width)
    {
        int n = x.Length, i = 0;
        if (width == VectorWidth.V512)
        {
            var a = Vector512.Create(alpha);
            for (; i + 16 <= n; i += 16)
            {
                (Vector512.Create(x.Slice(i, 16)) * a).CopyTo(x.Slice(i, 16));
            }
        }

        if (width >= VectorWidth.V256)
        {
            var a = Vector256.Create(alpha);
            for (; i + 8 <= n; i += 8)
            {
                (Vector256.Create(x.Slice(i, 8)) * a).CopyTo(x.Slice(i, 8));
            }
        }

        for (; i < n; i++)
        {
            x[i] *= alpha;
        }
    }

    /// <summary>
    /// y[j] = alpha * sum_k x[k] m[k * ld + j] for j &lt; y.Length: a row vector x [K] times a matrix m [K, ld],
    /// each output vector accumulated in a register over k (x[k] broadcast).
    /// </summary>
    public static void RowTimesMatrix(float alpha, ReadOnlySpan<float> x, ReadOnlySpan<float> m, int ld, Span<float> y, VectorWidth width)
    {
        int n = y.Length, k = x.Length, j = 0;
        if (width == VectorWidth.V512)
        {
            for (; j + 16 <= n; j += 16)
            {
                var acc = Vector512<float>.Zero;
                for (int p = 0; p < k; p++)
                {
                    acc += Vector512.Create(x[p]) * Vector512.Create(m.Slice((p * ld) + j, 16));
                }

                (acc * Vector512.Create(alpha)).CopyTo(y.Slice(j, 16));
            }
        }

        if (width >= VectorWidth.V256)
        {
            for (; j + 8 <= n; j += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int p = 0; p < k; p++)
                {
                    acc += Vector256.Create(x[p]) * Vector256.Create(m.Slice((p * ld) + j, 8));
                }

                (acc * Vector256.Create(alpha)).CopyTo(y.Slice(j, 8));
            }
        }

        if (width >= VectorWidth.V128)
        {
            for (; j + 4 <= n; j += 4)
            {
                var acc = Vector128<float>.Zero;
                for (int p = 0; p < k; p++)
                {
                    acc += Vector128.Create(x[p]) * Vector128.Create(m.Slice((p * ld) + j, 4));
                }

                (acc * Vector128.Create(alpha)).CopyTo(y.Slice(j, 4));
            }
        }

        for (; j < n; j++)
        {
            float acc = 0;
            for (int p = 0; p < k; p++)
            {
                acc += x[p] * m[(p * ld) + j];
            }

            y[j] = acc * alpha;
        }
    }

    /// <summary>
    /// y[c] = sum_r w[r] rows[r * stride + c] for c &lt; y.Length (rows start at rows[0]): a weighted sum of
    /// w.Length strided rows, each output vector accumulated in a register over r.
    /// </summary>
    public static void WeightedRowSum(ReadOnlySpan<float> w, ReadOnlySpan<float> rows, int stride, Span<float> y, VectorWidth width)
    {
        int n = y.Length, count = w.Length, c = 0;
        if (width == VectorWidth.V512)
        {
            for (; c + 16 <= n; c += 16)
            {
                var acc = Vector512<float>.Zero;
                for (int r = 0; r < count; r++)
                {
                    acc += Vector512.Create(w[r]) * Vector512.Create(rows.Slice((r * stride) + c, 16));
                }

                acc.CopyTo(y.Slice(c, 16));
            }
        }

        if (width >= VectorWidth.V256)
        {
            for (; c + 8 <= n; c += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int r = 0; r < count; r++)
                {
                    acc += Vector256.Create(w[r]) * Vector256.Create(rows.Slice((r * stride) + c, 8));
                }

                acc.CopyTo(y.Slice(c, 8));
            }
        }

        if (width >= VectorWidth.V128)
        {
            for (; c + 4 <= n; c += 4)
            {
                var acc = Vector128<float>.Zero;
                for (int r = 0; r < count; r++)
                {
                    acc += Vector128.Create(w[r]) * Vector128.Create(rows.Slice((r * stride) + c, 4));
                }

                acc.CopyTo(y.Slice(c, 4));
            }
        }

        for (; c < n; c++)
        {
            float acc = 0;
            for (int r = 0; r < count; r++)
            {
                acc += w[r] * rows[(r * stride) + c];
            }

            y[c] = acc;
        }
    }
}
