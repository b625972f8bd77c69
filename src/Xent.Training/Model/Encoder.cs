using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Xent.Training.Model;

/// <summary>Token + position embedding: x[b, t, :] = wte[tokens[b, t], :] + wpe[t, :].</summary>
internal static class Encoder
{
    /// <summary>output [B*T, D] from tokens [B*T], wte [V, D], wpe [Tmax, D].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float[] output, int[] tokens, float[] wte, float[] wpe, int batch, int seq, int dim)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < seq; t++)
            {
                int n = (b * seq) + t;
                Row(output.AsSpan(n * dim, dim), tokens[n], t, wte, wpe, dim);
            }
        }
    }

    /// <summary>output [D] = wte[token, :] + wpe[position, :] (one row: the forward's and the KV-cache step's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Row(Span<float> output, int token, int position, float[] wte, float[] wpe, int dim)
    {
        Add(wte.AsSpan(token * dim, dim), wpe.AsSpan(position * dim, dim), output);
    }

    /// <summary>dwte [V, D] += scatter of dout [B*T, D] by token; dwpe [Tmax, D] += sum over b (rows t &lt; T only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int batch, int seq, int dim)
    {
        // Serial in token order: the same token may appear at many positions, and a fixed order keeps dwte
        // reproducible. The work is N x D additions (vectorised: element-wise, the same bits), small next to the
        // matrix products.
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < seq; t++)
            {
                int n = (b * seq) + t;
                var d = dout.AsSpan(n * dim, dim);
                var e = dwte.AsSpan(tokens[n] * dim, dim);
                var p = dwpe.AsSpan(t * dim, dim);
                Add(e, d, e);
                Add(p, d, p);
            }
        }
    }

    /// <summary>
    /// destination = x + y, element-wise: a plain vector loop (one IEEE addition per element, so TensorPrimitives.Add's
    /// bits) that a run's first step compiles far faster than TensorPrimitives' generic code (about 7 ms of CPU).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> destination)
    {
        int n = x.Length;
        if (y.Length != n || destination.Length < n)
        {
            throw new ArgumentException("Element-wise add: the inputs' lengths differ or the destination is too short.");
        }

        ref float a = ref MemoryMarshal.GetReference(x);
        ref float b = ref MemoryMarshal.GetReference(y);
        ref float d = ref MemoryMarshal.GetReference(destination);
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                (Vector512.LoadUnsafe(ref a, (nuint)i) + Vector512.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                (Vector256.LoadUnsafe(ref a, (nuint)i) + Vector256.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref d, i) = Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i);
        }
    }
}
