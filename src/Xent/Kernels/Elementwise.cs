using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Xent.Kernels;

/// <summary>
/// Element-wise float sums as a plain vector loop, for the hot paths that used TensorPrimitives.Add: each element is
/// one IEEE addition whatever the width, so the bits are TensorPrimitives.Add's, but a process's first call
/// JIT-compiles one small loop instead of TensorPrimitives' generic machinery (about 7 ms of CPU in a training run's
/// first step, measured on the Zen 5 of docs/benchmarks.md).
/// </summary>
internal static class Elementwise
{
    /// <summary>destination[i] = x[i] + y[i] for i &lt; x.Length (destination may be x or y).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> destination)
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
