using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Distillation;

/// <content>
/// The tails of a forward-KL row whose student and teacher lead at one class, for the gradient there taken in double
/// (<see cref="DistillationKernel"/>'s FixLeading).
/// </content>
internal static partial class DistillationRows
{
    /// <summary>
    /// A tile row's share of the tails R_s = sum exp(x - m) and R_t = sum exp(y - m_t) over the columns other than the
    /// row's maxima (s below StudentMax, t below TeacherMax), in double; and the tile's column of the student's max
    /// where the teacher's max is there too (-1: the student's max is not in the tile; -2: it is, the teacher's is
    /// not). Where Q and P both lead at one class a, the gradient there, Q_a - P_a = (R_t - R_s) / ((1 + R_s)(1 +
    /// R_t)), is the difference of two tails that can agree to 1e-4 of themselves, and the statistics sweep's float
    /// sums keep them to 1-4e-8. So each term is taken from the tile's own maxima (where x - m would round by up to
    /// 5e-7 of it at |x - m| of 20; exp(tileMax - m) in double), and every vector's lanes meet in double.
    /// </summary>
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="s">The tile row's student logits (before the gradient overwrites them).</param>
    /// <param name="t">The tile row's teacher logits.</param>
    /// <param name="k">The row's constants (its maxima, 1 / T).</param>
    /// <param name="student">The tile's share of R_s, relative to the row's max.</param>
    /// <param name="teacher">The tile's share of R_t, relative to the row's max.</param>
    public static int LeadingTails(VectorWidth width, ReadOnlySpan<float> s, ReadOnlySpan<float> t, in RowConstants k, out double student, out double teacher)
    {
        int n = s.Length;
        ref float rs = ref Unsafe.AsRef(in s[0]);
        ref float rt = ref Unsafe.AsRef(in t[0]);
        int full = TileMaxima(width, s, t, out float maxS, out float maxT);

        // Shifts of 0 for a tile of only -inf (exp(-inf) = 0, not exp(NaN)).
        float shiftS = maxS == float.NegativeInfinity ? 0 : maxS, shiftT = maxT == float.NegativeInfinity ? 0 : maxT;
        double sumS = 0, sumT = 0;
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512: Tails<Vector512Ops, Vector512<float>>(ref rs, ref rt, 0, full, shiftS, shiftT, k, ref sumS, ref sumT); break;
            case VectorWidth.V256: Tails<Vector256Ops, Vector256<float>>(ref rs, ref rt, 0, full, shiftS, shiftT, k, ref sumS, ref sumT); break;
            case VectorWidth.V128: Tails<Vector128Ops, Vector128<float>>(ref rs, ref rt, 0, full, shiftS, shiftT, k, ref sumS, ref sumT); break;
            default: break;
        }

        Tails<ScalarOps, float>(ref rs, ref rt, full, n, shiftS, shiftT, k, ref sumS, ref sumT);
        student = sumS == 0 ? 0 : sumS * Math.Exp(((double)shiftS - k.StudentMax) * k.InverseTemperature);
        teacher = sumT == 0 ? 0 : sumT * Math.Exp(((double)shiftT - k.TeacherMax) * k.InverseTemperature);
        int at = maxS == k.StudentMax ? s.IndexOf(k.StudentMax) : -1;
        return at < 0 ? -1 : t[at] == k.TeacherMax ? at : -2;
    }

    // Compensated (Kahan) sums in the lanes, their parts meeting in double once a tile: as good as double sums of the
    // terms (the compensation keeps each lane's rounding, and a tile's lanes add under 2^-24 of the sum: 2 ulp of a
    // tail at most), without a reduction a vector, which took 40% of this loop's time at 512 bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Tails<TOps, TV>(ref float s, ref float t, int start, int end, float shiftS, float shiftT, in RowConstants k, ref double student, ref double teacher)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (start >= end)
        {
            return;
        }

        TV inv = TOps.Create(k.InverseTemperature), hs = TOps.Create(shiftS), ht = TOps.Create(shiftT), ms = TOps.Create(k.StudentMax), mt = TOps.Create(k.TeacherMax);
        // Two sums of each, even and odd vectors: a compensated add is a chain of four.
        TV zero = TOps.Create(0f), sumS = zero, lowS = zero, sumT = zero, lowT = zero, sumS1 = zero, lowS1 = zero, sumT1 = zero, lowT1 = zero;
        int j = start, count = TOps.Count;
        for (; j <= end - (2 * count); j += 2 * count)
        {
            Add<TOps, TV>(ref sumS, ref lowS, Tail<TOps, TV>(TOps.Load(ref s, j), hs, ms, inv));
            Add<TOps, TV>(ref sumT, ref lowT, Tail<TOps, TV>(TOps.Load(ref t, j), ht, mt, inv));
            Add<TOps, TV>(ref sumS1, ref lowS1, Tail<TOps, TV>(TOps.Load(ref s, j + count), hs, ms, inv));
            Add<TOps, TV>(ref sumT1, ref lowT1, Tail<TOps, TV>(TOps.Load(ref t, j + count), ht, mt, inv));
        }

        if (j < end)
        {
            Add<TOps, TV>(ref sumS, ref lowS, Tail<TOps, TV>(TOps.Load(ref s, j), hs, ms, inv));
            Add<TOps, TV>(ref sumT, ref lowT, Tail<TOps, TV>(TOps.Load(ref t, j), ht, mt, inv));
        }

        student += (TOps.SumWide(sumS, sumS1) - TOps.SumWide(lowS, lowS1));
        teacher += (TOps.SumWide(sumT, sumT1) - TOps.SumWide(lowT, lowT1));
    }

    /// <summary>exp((x - shift) / T) where x is below the row's max, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Tail<TOps, TV>(TV x, TV shift, TV rowMax, TV inverseTemperature)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        TOps.Select(TOps.LessThan(x, rowMax), TOps.Exp(TOps.Multiply(TOps.Subtract(x, shift), inverseTemperature)), TOps.Create(0f));

    /// <summary>sum += x, Kahan's way: <paramref name="low"/> keeps what the sum's rounding lost (with the sign to subtract).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add<TOps, TV>(ref TV sum, ref TV low, TV x)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV y = TOps.Subtract(x, low), next = TOps.Add(sum, y);
        low = TOps.Subtract(TOps.Subtract(next, sum), y);
        sum = next;
    }
}
