using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Xent.Kernels;

/// <content>
/// The leading column of a probability-target row whose max has p above 1/2, for the gradient's column rewritten in
/// double (<see cref="CrossEntropyKernel"/>'s FixDominant).
/// </content>
internal static partial class StatisticsKernel
{
    /// <summary>
    /// The first column of a block that holds <paramref name="max"/> (the block's max, at a column with p above 1/2 of
    /// its row: the only column there that holds it), or -1 where none does; and sum_c w[c] t[c] over the block's
    /// other columns. That sum leaves the leading column's w t out of the float sums (where beside a t of about 1 they
    /// drop the small ones: the forward's sum w t is off by up to the ulp of 1 for each of its float partial sums), so
    /// that p sum w t' - w t' at the leading column can be taken as p (rest) - (1 - p) w t' without cancellation. Two
    /// loops: the first vector that holds the max, then t (and w) alone over the runs either side of it, in four sums.
    /// </summary>
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's (soft-capped) logits.</param>
    /// <param name="max">The block's max.</param>
    /// <param name="weights">The block's class weights, or empty for all 1.</param>
    /// <param name="probabilities">The block's target probabilities.</param>
    /// <param name="otherWeightedTargets">sum_c w[c] t[c] over the block's columns but the one returned (0 where none is).</param>
    public static int DominantColumn(VectorWidth width, ReadOnlySpan<float> z, float max, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, out double otherWeightedTargets) =>
        Widths.Fit(width, z.Length) switch
        {
            VectorWidth.V512 => DominantColumn<Vector512Ops, Vector512<float>>(z, max, weights, probabilities, out otherWeightedTargets),
            VectorWidth.V256 => DominantColumn<Vector256Ops, Vector256<float>>(z, max, weights, probabilities, out otherWeightedTargets),
            VectorWidth.V128 => DominantColumn<Vector128Ops, Vector128<float>>(z, max, weights, probabilities, out otherWeightedTargets),
            _ => DominantColumn<ScalarOps, float>(z, max, weights, probabilities, out otherWeightedTargets),
        };

    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static int DominantColumn<TOps, TV>(ReadOnlySpan<float> z, float max, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, out double otherWeightedTargets)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int column = FirstAt<TOps, TV>(z, max);
        otherWeightedTargets = 0;
        if (column >= 0)
        {
            // The two runs either side of the column: t (and w) alone, no z.
            otherWeightedTargets = WeightedSum<TOps, TV>(weights, probabilities, 0, column) + WeightedSum<TOps, TV>(weights, probabilities, column + 1, z.Length);
        }

        return column;
    }

    /// <summary>
    /// The first index of <paramref name="value"/> (at least every element of z, none NaN) in z, or -1: four vectors at a
    /// time through their max until it reaches the value, then vector by vector, then the rest one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FirstAt<TOps, TV>(ReadOnlySpan<float> z, float value)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int n = z.Length, k = TOps.Count;
        ref float x = ref MemoryMarshal.GetReference(z);
        TV m = TOps.Create(value);
        nint i = 0;
        for (; i <= n - (4 * k); i += 4 * k)
        {
            TV top = TOps.Max(TOps.Max(TOps.Load(ref x, i), TOps.Load(ref x, i + k)), TOps.Max(TOps.Load(ref x, i + (2 * k)), TOps.Load(ref x, i + (3 * k))));
            if (!TOps.AllLessThan(top, m))
            {
                break;
            }
        }

        for (; i <= n - k; i += k)
        {
            if (!TOps.AllLessThan(TOps.Load(ref x, i), m))
            {
                break;
            }
        }

        for (; i < n; i++)
        {
            if (Unsafe.Add(ref x, i) == value)
            {
                return (int)i;
            }
        }

        return -1;
    }

    /// <summary>
    /// sum_c w[c] t[c] over [<paramref name="from"/>, <paramref name="to"/>) (w = 1 where empty): four float
    /// partial sums, carried on in double every <see cref="TargetSumFlush"/> vectors, then the rest one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double WeightedSum<TOps, TV>(ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, int from, int to)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int k = TOps.Count;
        bool hasWeights = !weights.IsEmpty;
        ref float w = ref MemoryMarshal.GetReference(weights);
        ref float t = ref MemoryMarshal.GetReference(probabilities);
        TV zero = TOps.Create(0f), s0 = zero, s1 = zero, s2 = zero, s3 = zero;
        double total = 0;
        nint i = from;
        int pending = 0;
        for (; i <= to - (4 * k); i += 4 * k)
        {
            s0 = TOps.Add(s0, Term<TOps, TV>(ref w, ref t, i, hasWeights));
            s1 = TOps.Add(s1, Term<TOps, TV>(ref w, ref t, i + k, hasWeights));
            s2 = TOps.Add(s2, Term<TOps, TV>(ref w, ref t, i + (2 * k), hasWeights));
            s3 = TOps.Add(s3, Term<TOps, TV>(ref w, ref t, i + (3 * k), hasWeights));
            if ((pending += 4) >= TargetSumFlush)
            {
                total += TOps.SumWide(TOps.Add(TOps.Add(s0, s1), TOps.Add(s2, s3)));
                s0 = s1 = s2 = s3 = zero;
                pending = 0;
            }
        }

        for (; i <= to - k; i += k)
        {
            s0 = TOps.Add(s0, Term<TOps, TV>(ref w, ref t, i, hasWeights));
        }

        total += TOps.SumWide(TOps.Add(TOps.Add(s0, s1), TOps.Add(s2, s3)));
        for (; i < to; i++)
        {
            total += (hasWeights ? Unsafe.Add(ref w, i) : 1f) * Unsafe.Add(ref t, i);
        }

        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Term<TOps, TV>(ref float w, ref float t, nint i, bool hasWeights)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        hasWeights ? TOps.Multiply(TOps.Load(ref w, i), TOps.Load(ref t, i)) : TOps.Load(ref t, i);
}
