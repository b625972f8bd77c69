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
}
