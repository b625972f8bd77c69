using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// Computes <see cref="BlockStatistics"/> of one block (<see cref="CrossEntropyKernel.BlockColumns"/>): for class-index targets with nothing to store one
/// pass with per-lane running maxima, gathering sum w z on the way for label smoothing (measured 5-20% faster than
/// two passes on Zen 5, 1.5x with smoothing: 9.7 -> 6.5 ms at 2048 x 32000); with exponentials to store (plain, times a
/// soft cap's derivative, or beside label smoothing's sum w z), one pass too, whose exponentials share one shift for
/// the block (<see cref="OnlineMaxExpSumStore{TOps, TV}"/>); otherwise (probability targets, short blocks, no FMA) a max
/// pass, then an exp-sum pass over the same, now cached, block (the stored exponentials must share one shift, the
/// block's max). Remainders use a
/// last vector shifted back to end at the block's end, with its already counted lanes masked out of the sums
/// (max needs no mask: counting a lane twice changes nothing).
/// </summary>
internal static partial class StatisticsKernel
{
    /// <summary>How far ahead (8 KB) the single-pass loop prefetches: memory time the exps can hide.</summary>
    private const int PrefetchAheadBytes = 8192;

    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's (soft-capped) logits, at least one.</param>
    /// <param name="weights">The block's class weights, or empty for all 1.</param>
    /// <param name="probabilities">The block's target probabilities, or empty for class-index targets.</param>
    /// <param name="weightedLogits">Whether to gather sum w z (label smoothing).</param>
    /// <param name="exps">Empty, or where to write exp(z - shift) (class-index targets only; may be z's memory).</param>
    /// <param name="inverseCap">
    /// 1 / s under a soft cap s (z the capped logits), else 0: what <paramref name="exps"/> receives is then
    /// exp(z - shift) (1 - (z / s)^2), the exponential times the cap's derivative, which the gradient needs; the sum is
    /// of the exponentials alone.
    /// </param>
    /// <param name="prefetchNext">Whether z is pinned memory followed by the next block to read (the logits
    /// themselves, not a scratch copy): then the exp pass prefetches what follows z. Prefetches never fault.</param>
    /// <param name="storedStatistics">
    /// With <paramref name="exps"/> empty, the statistics as storing the exponentials computes them, bitwise (for a
    /// write pass that recomputes the stored exponentials instead: <see cref="GradientKernel.WriteShifted"/>).
    /// </param>
    public static BlockStatistics Compute(VectorWidth width, ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps = default, bool prefetchNext = false, float inverseCap = 0f, bool storedStatistics = false) =>
        Widths.Fit(width, z.Length) switch
        {
            VectorWidth.V512 => Compute512(z, weights, probabilities, weightedLogits, exps, prefetchNext, inverseCap, storedStatistics),
            VectorWidth.V256 => Compute256(z, weights, probabilities, weightedLogits, exps, prefetchNext, inverseCap, storedStatistics),
            VectorWidth.V128 => Compute128(z, weights, probabilities, weightedLogits, exps, prefetchNext, inverseCap, storedStatistics),
            _ => ComputeScalar(z, weights, probabilities, weightedLogits, exps, prefetchNext, inverseCap, storedStatistics),
        };

    // One plain method per width, so that compiling the dispatcher above (unoptimised, on a process's first call)
    // resolves no generic instantiation: naming all four widths' instantiations there loaded every width's operator
    // types and took ~60% as long as the kernel's own compilation. Only the width used is compiled and loaded.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockStatistics Compute512(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext, float inverseCap, bool storedStatistics) =>
        Compute<Vector512Ops, Vector512<float>>(z, weights, probabilities, weightedLogits, exps, prefetchNext, inverseCap, storedStatistics);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockStatistics Compute256(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext, float inverseCap, bool storedStatistics) =>
        Compute<Vector256Ops, Vector256<float>>(z, weights, probabilities, weightedLogits, exps, prefetchNext, inverseCap, storedStatistics);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockStatistics Compute128(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext, float inverseCap, bool storedStatistics) =>
        Compute<Vector128Ops, Vector128<float>>(z, weights, probabilities, weightedLogits, exps, prefetchNext, inverseCap, storedStatistics);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockStatistics ComputeScalar(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext, float inverseCap, bool storedStatistics) =>
        Compute<ScalarOps, float>(z, weights, probabilities, weightedLogits, exps, prefetchNext, inverseCap, storedStatistics);

    /// <summary>
    /// The plain statistics (nothing stored, class-index targets) of a block of 16-bit logits (bfloat16 or Half) read
    /// in place: the single-pass loop widens each vector as it loads it, so the block is read once, at half the bytes
    /// of float, and never copied. The same algorithm, lane for lane, as <see cref="Compute(VectorWidth, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, bool, Span{float}, bool, float, bool)"/>
    /// on the widened values, so the results are bitwise the float path's; blocks too short for it (and the scalar
    /// fallback) are widened into <paramref name="scratch"/> and computed there.
    /// </summary>
    /// <typeparam name="T"><see cref="BFloat16"/> or <see cref="Half"/>.</typeparam>
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's logits, at least one.</param>
    /// <param name="weights">The block's class weights, or empty for all 1.</param>
    /// <param name="weightedLogits">Whether to gather sum w z (label smoothing).</param>
    /// <param name="scratch">Room for the block widened to float, at least z.Length.</param>
    /// <param name="prefetchNext">Whether z is followed by the next block to read (prefetches never fault).</param>
    public static BlockStatistics Compute<T>(VectorWidth width, ReadOnlySpan<T> z, ReadOnlySpan<float> weights, bool weightedLogits, Span<float> scratch, bool prefetchNext)
        where T : unmanaged
    {
        bool half = typeof(T) == typeof(Half);
        var result = default(BlockStatistics);
        var w = weightedLogits ? weights : default;
        ref byte x = ref Unsafe.As<T, byte>(ref MemoryMarshal.GetReference(z));
        int n = z.Length;
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512 when n >= OnlineChunk * Vector512<float>.Count:
                if (half)
                {
                    OnlineMaxExpSum<Vector512Ops, Vector512<float>, HalfLanes512>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }
                else
                {
                    OnlineMaxExpSum<Vector512Ops, Vector512<float>, BFloat16Lanes512>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }

                return result;
            case VectorWidth.V256 when n >= OnlineChunk * Vector256<float>.Count:
                if (half)
                {
                    OnlineMaxExpSum<Vector256Ops, Vector256<float>, HalfLanes256>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }
                else
                {
                    OnlineMaxExpSum<Vector256Ops, Vector256<float>, BFloat16Lanes256>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }

                return result;
            case VectorWidth.V128 when n >= OnlineChunk * Vector128<float>.Count:
                if (half)
                {
                    OnlineMaxExpSum<Vector128Ops, Vector128<float>, HalfLanes128>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }
                else
                {
                    OnlineMaxExpSum<Vector128Ops, Vector128<float>, BFloat16Lanes128>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }

                return result;
            default:
                var s = scratch.Slice(0, n);
                Widening.Widen(width, half ? ElementKind.Half : ElementKind.BFloat16, ref x, s);
                return Compute(width, s, weights, default, weightedLogits);
        }
    }

    /// <summary>
    /// <see cref="Compute(VectorWidth, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, bool, Span{float}, bool, float, bool)"/>
    /// at the width <typeparamref name="TOps"/>, which must fit the block (<see cref="Widths.Fit"/>): for callers that
    /// chose it once for many blocks of one length.
    /// </summary>
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower); inlined into its callers,
    // which only choose among the loops, each of them never inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.AggressiveInlining)]
    internal static BlockStatistics Compute<TOps, TV>(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext, float inverseCap, bool storedStatistics = false)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        var result = default(BlockStatistics);
        Compute<TOps, TV>(ref result, z, weights, probabilities, weightedLogits, exps, prefetchNext, inverseCap, storedStatistics);
        return result;
    }

    /// <summary>
    /// The same, written into <paramref name="result"/> (all of it). For a loop of short rows that keeps each row's
    /// statistics: returned, the statistics were written field by field into a local and then copied with wider loads,
    /// which the core cannot forward from the narrower stores just made (a stall of every row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.AggressiveInlining)]
    internal static void Compute<TOps, TV>(ref BlockStatistics result, ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext, float inverseCap, bool storedStatistics = false)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        result = default;
        bool stores = !exps.IsEmpty || storedStatistics;
        // Not for the scalar fallback: there the rescaling exp per chunk of 8 is 12% more exps (measured 10% slower).
        if (TOps.Count > 1 && !stores && probabilities.IsEmpty && z.Length >= OnlineChunk * TOps.Count)
        {
            ref byte x = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(z));
            OnlineMaxExpSum<TOps, TV, SingleLanes<TOps, TV>>(ref x, z.Length, weightedLogits ? weights : default, weightedLogits, prefetchNext, ref result);
            return;
        }

        // Label smoothing's sum w z and the soft cap's derivative only where the exponentials are stored: a write pass
        // that recomputes them (empty exps) is the plain gradient's alone.
        if (TOps.Count > 1 && stores && probabilities.IsEmpty && z.Length >= OnlineChunk * TOps.Count && Simd.FusedMultiplyAddIsHardware
            && (!exps.IsEmpty || (!weightedLogits && inverseCap == 0f)))
        {
            result = OnlineMaxExpSumStore<TOps, TV>(z, exps, prefetchNext, weights, weightedLogits, inverseCap);
            return;
        }

        // The plain two passes (short blocks: every row of a few classes), max and exp-sum in one call.
        if (!weightedLogits && probabilities.IsEmpty && (inverseCap == 0f || exps.IsEmpty))
        {
            result.Sum = Dominated<TOps, TV>(MaxExpSum<TOps, TV>(z, exps, prefetchNext, out result.Max), z, result.Max, exps, capped: false);
            return;
        }

        bool smoothedStore = weightedLogits && stores && probabilities.IsEmpty;
        double weightedLogitSum = 0;
        result.Max = smoothedStore
            ? BlockMaxWeightedSum<TOps, TV>(z, weights, out weightedLogitSum)
            : BlockMax<TOps, TV, SingleLanes<TOps, TV>>(ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(z)), z.Length, default);
        result.WeightedLogits = weightedLogitSum;

        // A block of only -inf (and NaN) has max -inf: sum relative to 0 instead, which gives 0 (or NaN), not
        // exp(-inf - -inf) = NaN.
        float shift = result.Max == float.NegativeInfinity ? 0f : result.Max;
        if (smoothedStore)
        {
            result.Sum = Dominated<TOps, TV>(ExpSum<TOps, TV, No>(z, shift, exps, prefetchNext, 0f), z, result.Max, exps, capped: false);
        }
        else if (!weightedLogits && probabilities.IsEmpty)
        {
            // Only a soft cap with its exponentials stored comes here: the uncapped two passes took MaxExpSum above.
            result.Sum = Dominated<TOps, TV>(ExpSum<TOps, TV, Yes>(z, shift, exps, prefetchNext, inverseCap), z, result.Max, exps, capped: true);
        }
        else
        {
            ExpSumWeighted<TOps, TV>(z, shift, weights, probabilities, weightedLogits, ref result);
            if (result.Sum < DominatedSum)
            {
                // One term leads the block (the rest sum under 1/16 of it): summed again with the max's term apart, as
                // beside that 1 the float sum dropped every term under 2^-25, and with one logit 17 above the rest all
                // of them, and a one-hot target's small loss with them (1-17% of it, by the width). Only such blocks
                // pay (a second exp pass); counted apart in the weighted loop, every block paid 4 operations a vector.
                result.Sum = SumMaxTermsApart<TOps, TV>(z, shift);
            }
        }
    }

    /// <summary>prefetcht0 of every 64-byte line of the <paramref name="bytes"/> at <paramref name="address"/> (nothing
    /// without SSE); prefetches never fault, so the range may run past the buffer. The memory limits' reads and copies
    /// (Xent.Baselines) prefetch through it too, as the kernels do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PrefetchChunk(ref byte address, int bytes)
    {
        if (Sse.IsSupported)
        {
            byte* p = (byte*)Unsafe.AsPointer(ref address);
            for (int b = 0; b < bytes; b += 64)
            {
                Sse.Prefetch0(p + b);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(ref float address)
    {
        if (Sse.IsSupported)
        {
            // Two cache lines per iteration (the loop takes 2 vectors of 64 bytes at 512 bits; more than enough
            // at narrower widths).
            byte* p = (byte*)Unsafe.AsPointer(ref address);
            Sse.Prefetch0(p);
            Sse.Prefetch0(p + 64);
        }
    }

    /// <summary>
    /// Steps over whole vectors of a block of n &gt;= k floats, the last one shifted back to end at n (no scalar
    /// tail): false once the block is done; <paramref name="skip"/> is how many of the current vector's first lanes
    /// an earlier vector already counted (0 except for the shifted-back last one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool NextVector(ref nint i, int n, int k, out int skip)
    {
        skip = 0;
        if (i <= n - k)
        {
            return true;
        }

        int rest = n - (int)i;
        if (rest <= 0)
        {
            return false;
        }

        skip = k - rest;
        i = n - k;
        return true;
    }
}
